package api

import (
	"testing"

	"github.com/shardscope/shardscope/engine"
)

// TestEndToEndSettings runs testdata/e2e_settings.sh (AWS CLI) and
// testdata/e2e_settings_boto3.py (boto3) against a live server: the
// settings actions as real clients send them.
func TestEndToEndSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the AWS CLI takes a while to start")
	}
	t.Parallel() // alongside TestEndToEndAWSCLIAndBoto3: mostly waiting for Python to start
	for client, script := range map[string]string{"aws-cli": "testdata/e2e_settings.sh", "boto3": "testdata/e2e_settings_boto3.py"} {
		t.Run(client, func(t *testing.T) {
			t.Parallel()
			// Each script has an engine of its own: both change the account's settings.
			e := testEngine(t, engine.Options{DisableLimits: true, ScaleInterval: -1})
			url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
			runClientScript(t, client, script, url)
		})
	}
}
