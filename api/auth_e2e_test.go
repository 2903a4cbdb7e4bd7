package api

import (
	"testing"
	"time"
)

// clientCredentials is the AWS shared-credentials file the CLI and boto3
// scripts use: the server's keys (testCredentials), one with a wrong
// secret and one the server does not know.
const clientCredentials = `
[alice]
aws_access_key_id = AKIAALICE0000000000
aws_secret_access_key = alice/secret
[bob]
aws_access_key_id = AKIABOB000000000000
aws_secret_access_key = bob/secret
[wrong]
aws_access_key_id = AKIAALICE0000000000
aws_secret_access_key = not-alice
[old]
aws_access_key_id = ASIAOLD000000000000
aws_secret_access_key = old/secret
aws_session_token = old-token
[temp]
aws_access_key_id = ASIATEMP00000000000
aws_secret_access_key = temp/secret
aws_session_token = temp-token
[nobody]
aws_access_key_id = AKIANOBODY000000000
aws_secret_access_key = x
`

const scriptPolicies = `{
  "alice": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}},
  "temp": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:List*", "Resource": "*"}}
}`

// TestEndToEndAuthCLIAndBoto3 runs testdata/e2e_auth.sh (AWS CLI, with
// --ca-bundle) and testdata/e2e_auth_boto3.py (boto3, verify=) against a
// server with signatures, policies and a self-signed TLS certificate, and
// a second one whose clock runs ten minutes ahead.
func TestEndToEndAuthCLIAndBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the AWS CLI takes a while to start")
	}
	env := newSecureEnv(t, scriptPolicies, true)
	skewed := newSecureEnv(t, scriptPolicies, true)
	skewed.skew.Store(int64(10 * time.Minute))
	creds := []string{"AWS_SHARED_CREDENTIALS_FILE=" + writeFile(t, "credentials", clientCredentials)}
	args := []string{env.url, env.caFile, skewed.url, skewed.caFile}
	t.Run("aws-cli", func(t *testing.T) {
		t.Parallel()
		runClientScriptWith(t, "aws-cli", "testdata/e2e_auth.sh", creds, args...)
	})
	t.Run("boto3", func(t *testing.T) {
		t.Parallel()
		runClientScriptWith(t, "boto3", "testdata/e2e_auth_boto3.py", creds, args...)
	})
}
