#!/usr/bin/env bash
# e2e.sh drives a running shardscope Kinesis endpoint with the AWS CLI and
# checks every answer: create a stream, put records, read with each
# iterator type, split, merge, read across the lineage, change retention,
# tag, and delete. It exits non-zero at the first mismatch.
#
# Usage: e2e.sh PORT | e2e.sh http://HOST:PORT
# Env:   E2E_STREAM  stream name to use (default e2e-cli-<pid>)
set -euo pipefail

endpoint=${1:?usage: e2e.sh PORT|http://HOST:PORT}
[[ $endpoint =~ ^[0-9]+$ ]] && endpoint="http://127.0.0.1:$endpoint"

# Dummy credentials, and none of the developer's own AWS settings.
export AWS_ACCESS_KEY_ID=shardscope AWS_SECRET_ACCESS_KEY=shardscope
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_PAGER=
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS

stream=${E2E_STREAM:-e2e-cli-$$}
shard0=shardId-000000000000
half=170141183460469231731687303715884105728 # 2^127

# CLI v2 reads blob arguments as base64 unless told otherwise; v1 sends them raw.
blob=()
if aws --version 2>&1 | grep -q '^aws-cli/2'; then
	blob=(--cli-binary-format raw-in-base64-out)
fi

step() { printf 'e2e.sh: %s\n' "$*" >&2; }
fail() {
	printf 'e2e.sh: FAIL: %s\n' "$*" >&2
	exit 1
}
# eq GOT WANT WHAT
eq() { [[ "$1" == "$2" ]] || fail "$3: got [$1], want [$2]"; }

# k runs one Kinesis call with text output.
k() { aws kinesis "$@" --endpoint-url "$endpoint" --region us-east-1 --output text; }

# k_err runs a call that must fail with the given error name.
k_err() {
	local want=$1 out
	shift
	if out=$(k "$@" 2>&1); then
		fail "$1 succeeded, want $want"
	fi
	[[ $out == *"($want)"* ]] || fail "$1: got [$out], want error $want"
}

# decode turns space- or tab-separated base64 values into space-separated text.
decode() {
	local d out=()
	for d in $1; do
		[[ $d == none ]] && continue
		out+=("$(printf '%s' "$d" | base64 -d)")
	done
	echo "${out[*]-}"
}

# iter SHARD TYPE [extra args...] prints a shard iterator.
iter() {
	local shard=$1 type=$2
	shift 2
	k get-shard-iterator --stream-name "$stream" --shard-id "$shard" --shard-iterator-type "$type" "$@" --query ShardIterator
}

# read_once ITERATOR prints "DATA<TAB>NEXT<TAB>CHILDREN" for one GetRecords
# call: the records' data decoded, whether a next iterator came, and the
# child shards (with their parents) when the shard ended.
read_once_query='[join(`" "`, Records[].Data) || `"none"`, NextShardIterator && `"next"` || `"end"`,
	join(`" "`, (ChildShards || `[]`)[].join(`"<"`, [ShardId, join(`"+"`, ParentShards)])) || `"none"`]'
read_once() {
	local data next children
	IFS=$'\t' read -r data next children < <(k get-records --shard-iterator "$1" --query "$read_once_query")
	printf '%s\t%s\t%s\n' "$(decode "$data")" "$next" "$children"
}

step "endpoint $endpoint, stream $stream, $(aws --version 2>&1)"

step "create"
k create-stream --stream-name "$stream" --shard-count 1 >/dev/null
eq "$(k describe-stream-summary --stream-name "$stream" --query 'StreamDescriptionSummary.[StreamStatus,OpenShardCount,RetentionPeriodHours,StreamModeDetails.StreamMode]')" \
	$'ACTIVE\t1\t24\tPROVISIONED' "describe-stream-summary"
[[ $(k list-streams --query 'StreamNames') == *"$stream"* ]] || fail "list-streams does not list $stream"

step "put"
read -r seq1 seq2 seq3 failed < <(k put-records --stream-name "$stream" "${blob[@]}" \
	--records Data=one,PartitionKey=k1 Data=two,PartitionKey=k2 Data=three,PartitionKey=k3 \
	--query '[Records[0].SequenceNumber, Records[1].SequenceNumber, Records[2].SequenceNumber, FailedRecordCount]')
eq "$failed" 0 "put-records FailedRecordCount"
[[ -n $seq3 && $seq1 != "$seq2" ]] || fail "put-records sequence numbers [$seq1 $seq2 $seq3]"

step "read with each iterator type"
eq "$(read_once "$(iter $shard0 TRIM_HORIZON)")" $'one two three\tnext\tnone' "TRIM_HORIZON"
eq "$(read_once "$(iter $shard0 AT_SEQUENCE_NUMBER --starting-sequence-number "$seq2")")" $'two three\tnext\tnone' "AT_SEQUENCE_NUMBER"
eq "$(read_once "$(iter $shard0 AFTER_SEQUENCE_NUMBER --starting-sequence-number "$seq2")")" $'three\tnext\tnone' "AFTER_SEQUENCE_NUMBER"
latest=$(iter $shard0 LATEST)
# botocore sends timestamps in whole seconds: put "four" in a later second
# than the first three so AT_TIMESTAMP can tell them apart.
sleep 1.05
eq "$(k put-record --stream-name "$stream" "${blob[@]}" --partition-key k4 --data four --query ShardId)" $shard0 "put-record"
read -r data4 ts4 < <(k get-records --shard-iterator "$latest" --query '[Records[0].Data, Records[0].ApproximateArrivalTimestamp]')
eq "$(decode "$data4")" four "LATEST sees only the later record"
eq "$(read_once "$(iter $shard0 AT_TIMESTAMP --timestamp "$ts4")")" $'four\tnext\tnone' "AT_TIMESTAMP $ts4"
k_err InvalidArgumentException get-records --shard-iterator not-an-iterator

step "split and merge"
k split-shard --stream-name "$stream" --shard-to-split $shard0 --new-starting-hash-key $half >/dev/null
eq "$(k put-record --stream-name "$stream" "${blob[@]}" --partition-key x --explicit-hash-key 1 --data low --query ShardId)" shardId-000000000001 "record in the low child"
eq "$(k put-record --stream-name "$stream" "${blob[@]}" --partition-key x --explicit-hash-key 170141183460469231731687303715884105729 --data high --query ShardId)" shardId-000000000002 "record in the high child"
k merge-shards --stream-name "$stream" --shard-to-merge shardId-000000000001 --adjacent-shard-to-merge shardId-000000000002 >/dev/null
eq "$(k put-record --stream-name "$stream" "${blob[@]}" --partition-key x --data merged --query ShardId)" shardId-000000000003 "record in the merged shard"
eq "$(k list-shards --stream-name "$stream" --query 'Shards[].[ShardId, ParentShardId, AdjacentParentShardId]')" \
	"shardId-000000000000	None	None
shardId-000000000001	shardId-000000000000	None
shardId-000000000002	shardId-000000000000	None
shardId-000000000003	shardId-000000000001	shardId-000000000002" "list-shards lineage"

step "read across the lineage"
eq "$(read_once "$(iter $shard0 TRIM_HORIZON)")" \
	$'one two three four\tend\tshardId-000000000001<shardId-000000000000 shardId-000000000002<shardId-000000000000' "parent to its end"
eq "$(read_once "$(iter shardId-000000000001 TRIM_HORIZON)")" \
	$'low\tend\tshardId-000000000003<shardId-000000000001+shardId-000000000002' "low child to its end"
eq "$(read_once "$(iter shardId-000000000002 TRIM_HORIZON)")" \
	$'high\tend\tshardId-000000000003<shardId-000000000001+shardId-000000000002' "high child to its end"
eq "$(read_once "$(iter shardId-000000000003 TRIM_HORIZON)")" $'merged\tnext\tnone' "merged shard"

step "retention"
k increase-stream-retention-period --stream-name "$stream" --retention-period-hours 48 >/dev/null
eq "$(k describe-stream-summary --stream-name "$stream" --query StreamDescriptionSummary.RetentionPeriodHours)" 48 "retention after increase"
k decrease-stream-retention-period --stream-name "$stream" --retention-period-hours 24 >/dev/null
k_err InvalidArgumentException increase-stream-retention-period --stream-name "$stream" --retention-period-hours 10
eq "$(k describe-stream --stream-name "$stream" --query 'StreamDescription.[RetentionPeriodHours, length(Shards)]')" $'24\t4' "retention after decrease"

step "tags"
k add-tags-to-stream --stream-name "$stream" --tags env=test,team=data >/dev/null
eq "$(k list-tags-for-stream --stream-name "$stream" --query 'Tags[].[Key,Value]')" $'env\ttest\nteam\tdata' "tags"
k remove-tags-from-stream --stream-name "$stream" --tag-keys env >/dev/null
eq "$(k list-tags-for-stream --stream-name "$stream" --query 'Tags[].[Key,Value]')" $'team\tdata' "tags after remove"

step "delete"
k delete-stream --stream-name "$stream" >/dev/null
k_err ResourceNotFoundException describe-stream-summary --stream-name "$stream"

step "PASS"
