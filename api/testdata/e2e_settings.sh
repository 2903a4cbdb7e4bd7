#!/usr/bin/env bash
# e2e_settings.sh drives a running shardscope Kinesis endpoint with the AWS
# CLI through the settings actions: enhanced monitoring, ARN-based tagging,
# account settings, the maximum record size and warm throughput. It exits
# non-zero at the first mismatch. Kept apart from e2e.sh so that each
# script stays short: the CLI takes seconds to start on a busy machine.
#
# Usage: e2e_settings.sh PORT | e2e_settings.sh http://HOST:PORT
# Env:   E2E_STREAM  stream name prefix (default e2e-set-<pid>)
set -euo pipefail

endpoint=${1:?usage: e2e_settings.sh PORT|http://HOST:PORT}
[[ $endpoint =~ ^[0-9]+$ ]] && endpoint="http://127.0.0.1:$endpoint"

export AWS_ACCESS_KEY_ID=shardscope AWS_SECRET_ACCESS_KEY=shardscope
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER=
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS

stream=${E2E_STREAM:-e2e-set-$$}
od=$stream-od
arn=arn:aws:kinesis:us-east-1:000000000000:stream/$stream

step() { printf 'e2e_settings.sh: %s\n' "$*" >&2; }
fail() {
	printf 'e2e_settings.sh: FAIL: %s\n' "$*" >&2
	exit 1
}
eq() { [[ "$1" == "$2" ]] || fail "$3: got [$1], want [$2]"; }
k() { aws kinesis "$@" --endpoint-url "$endpoint" --region us-east-1 --output text; }
k_err() {
	local want=$1 out
	shift
	if out=$(k "$@" 2>&1); then
		fail "$1 succeeded, want $want"
	fi
	[[ $out == *"($want)"* ]] || fail "$1: got [$out], want error $want"
}

step "endpoint $endpoint, stream $stream, $(aws --version 2>&1)"
k create-stream --stream-name "$stream" --shard-count 1 >/dev/null
k create-stream --stream-name "$od" --stream-mode-details StreamMode=ON_DEMAND >/dev/null

step "enhanced monitoring"
eq "$(k enable-enhanced-monitoring --stream-name "$stream" --shard-level-metrics IncomingBytes OutgoingBytes \
	--query 'join(`,`, [StreamName, join(`+`, DesiredShardLevelMetrics)])')" "$stream,IncomingBytes+OutgoingBytes" "enable"
eq "$(k disable-enhanced-monitoring --stream-arn "$arn" --shard-level-metrics OutgoingBytes \
	--query 'join(`,`, [join(`+`, CurrentShardLevelMetrics), join(`+`, DesiredShardLevelMetrics)])')" "IncomingBytes+OutgoingBytes,IncomingBytes" "disable"
eq "$(k describe-stream-summary --stream-name "$stream" \
	--query 'join(`,`, StreamDescriptionSummary.EnhancedMonitoring[0].ShardLevelMetrics)')" "IncomingBytes" "summary metrics"
k_err ValidationException enable-enhanced-monitoring --stream-name "$stream" --shard-level-metrics Latency

step "tag-resource"
k tag-resource --resource-arn "$arn" --tags env=test,team=data >/dev/null
k untag-resource --resource-arn "$arn" --tag-keys env >/dev/null
eq "$(k list-tags-for-resource --resource-arn "$arn" --query 'Tags[].[Key,Value]')" $'team\tdata' "tags"

step "max record size"
k update-max-record-size --stream-arn "$arn" --max-record-size-in-ki-b 2048 >/dev/null
eq "$(k describe-stream-summary --stream-name "$stream" --query StreamDescriptionSummary.MaxRecordSizeInKiB)" 2048 "max record size"
k_err ValidationException update-max-record-size --stream-arn "$arn" --max-record-size-in-ki-b 20000

step "account settings and warm throughput"
eq "$(k describe-account-settings --query MinimumThroughputBillingCommitment.Status)" DISABLED "account"
k_err InvalidArgumentException update-stream-warm-throughput --stream-name "$od" --warm-throughput-mi-bps 6
eq "$(k update-account-settings --minimum-throughput-billing-commitment Status=ENABLED \
	--query MinimumThroughputBillingCommitment.Status)" ENABLED "enable commitment"
eq "$(k update-stream-warm-throughput --stream-name "$od" --warm-throughput-mi-bps 6 \
	--query '[WarmThroughput.TargetMiBps, WarmThroughput.CurrentMiBps]')" $'6\t4' "warm throughput"
eq "$(k describe-stream-summary --stream-name "$od" \
	--query 'StreamDescriptionSummary.[OpenShardCount, WarmThroughput.CurrentMiBps]')" $'6\t6' "warm summary"

step "PASS"
