#!/usr/bin/env bash
# e2e_auth.sh drives a shardscope served with --auth, --policy and TLS with
# the AWS CLI, using profiles of a shared-credentials file as an
# application would: the right keys work; a wrong secret, a wrong region,
# an expired session token, a missing permission and a skewed clock get
# the service's errors. It exits non-zero at the first mismatch.
#
# Usage: e2e_auth.sh URL CA_BUNDLE SKEWED_URL SKEWED_CA_BUNDLE
# Env:   AWS_SHARED_CREDENTIALS_FILE  profiles alice, bob, wrong, old, temp
#        (see api/auth_e2e_test.go)
set -euo pipefail

endpoint=${1:?usage: e2e_auth.sh URL CA SKEWED_URL SKEWED_CA}
ca=${2:?}
skewed=${3:?}
skewed_ca=${4:?}
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER= AWS_MAX_ATTEMPTS=1 AWS_RETRY_MODE=standard
export AWS_CONFIG_FILE=/dev/null
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS AWS_CA_BUNDLE

step() { printf 'e2e_auth.sh: %s\n' "$*" >&2; }
fail() {
	printf 'e2e_auth.sh: FAIL: %s\n' "$*" >&2
	exit 1
}

blob=()
if aws --version 2>&1 | grep -q '^aws-cli/2'; then
	blob=(--cli-binary-format raw-in-base64-out)
fi

# k PROFILE ARGS... runs one Kinesis call over TLS, trusting only the
# server's certificate.
k() {
	local profile=$1
	shift
	aws kinesis "$@" --profile "$profile" --endpoint-url "$endpoint" --ca-bundle "$ca" --output text
}

# k_err WANT_NAME WANT_TEXT PROFILE ARGS... runs a call that must fail.
k_err() {
	local want=$1 text=$2 out
	shift 2
	if out=$(k "$@" 2>&1); then
		fail "$* succeeded, want $want"
	fi
	[[ $out == *"($want)"* && $out == *"$text"* ]] || fail "$*: got [$out], want $want … $text"
}

stream=e2e-auth-$$
step "endpoint $endpoint, $(aws --version 2>&1)"
k alice create-stream --stream-name "$stream" --shard-count 1 >/dev/null
k alice wait stream-exists --stream-name "$stream" 2>/dev/null || true
seq=$(k alice put-record --stream-name "$stream" --partition-key k --data hello "${blob[@]}" --query SequenceNumber)
[[ $seq =~ ^[0-9]+$ ]] || fail "put-record: sequence number [$seq]"
k temp list-streams >/dev/null || fail "a session token's key was refused"

k_err InvalidSignatureException "The request signature we calculated does not match the signature you provided" wrong list-streams
k_err InvalidSignatureException "Credential should be scoped to a valid region, not 'eu-west-1'" alice list-streams --region eu-west-1
k_err ExpiredTokenException "The security token included in the request is expired" old list-streams
k_err UnrecognizedClientException "The security token included in the request is invalid" nobody list-streams
k_err AccessDeniedException "is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:" \
	bob put-record --stream-name "$stream" --partition-key k --data x "${blob[@]}"

# The skewed server's clock runs ten minutes ahead.
if out=$(aws kinesis list-streams --profile alice --endpoint-url "$skewed" --ca-bundle "$skewed_ca" 2>&1); then
	fail "a request ten minutes old was accepted"
fi
[[ $out == *"(InvalidSignatureException)"*"Signature expired:"* ]] || fail "skewed clock: got [$out]"

# Without --ca-bundle the self-signed certificate is not trusted.
if out=$(aws kinesis list-streams --profile alice --endpoint-url "$endpoint" 2>&1); then
	fail "an untrusted certificate was accepted"
fi
[[ $out == *SSL* || $out == *certificate* ]] || fail "untrusted certificate: got [$out]"
step "ok"
