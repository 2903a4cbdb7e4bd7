#!/usr/bin/env python3
"""e2e_service_answers.py checks, with boto3, the answers where the service
is particular: short shard ids, its exact error texts, validation of every
member at once, and the stream states of a delayed endpoint. The endpoint
must run with a create, update and delete delay of about a second or more
(shardscope serve --create-delay 1s --update-delay 2s --delete-delay 1s).

Usage: e2e_service_answers.py PORT | e2e_service_answers.py http://HOST:PORT
"""

import datetime
import os
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

ACCOUNT = "000000000000"
HALF = 2**127


def fail(msg):
    print(f"e2e_service_answers.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def eq(got, want, what):
    if got != want:
        fail(f"{what}:\n got {got!r}\nwant {want!r}")


def step(msg):
    print(f"e2e_service_answers.py: {msg}", file=sys.stderr)


def expect_error(code, fn, **kwargs):
    """Calls fn and checks that it fails with the given error code; returns the message."""
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        eq(e.response["Error"]["Code"], code, f"{fn.__name__} error code ({e.response['Error'].get('Message')})")
        return e.response["Error"]["Message"]
    fail(f"{fn.__name__}({kwargs}) succeeded, want {code}")


def wait_status(k, stream, want, deadline=60):
    """Polls the stream's status until it is want (a condition, not a sleep)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        st = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        if st == want:
            return
        time.sleep(0.1)
    fail(f"{stream} not {want} within {deadline}s")


def main():
    if len(sys.argv) != 2:
        fail("usage: e2e_service_answers.py PORT|http://HOST:PORT")
    endpoint = sys.argv[1]
    if endpoint.isdigit():
        endpoint = f"http://127.0.0.1:{endpoint}"
    stream = os.environ.get("E2E_STREAM", f"e2e-ids-{os.getpid()}")
    session = boto3.session.Session(
        aws_access_key_id="shardscope", aws_secret_access_key="shardscope", region_name="us-east-1")
    # No retries; no client-side validation, so the server's is what answers.
    cfg = botocore.config.Config(retries={"total_max_attempts": 1}, parameter_validation=False)
    k = session.client("kinesis", endpoint_url=endpoint, config=cfg)

    step("CREATING: no shards listed")
    k.create_stream(StreamName=stream, ShardCount=2)
    d = k.describe_stream(StreamName=stream)["StreamDescription"]
    eq((d["StreamStatus"], d["Shards"], d["HasMoreShards"]), ("CREATING", [], False), "DescribeStream while CREATING")
    wait_status(k, stream, "ACTIVE")
    eq(len(k.describe_stream(StreamName=stream)["StreamDescription"]["Shards"]), 2, "shards once ACTIVE")

    step("short shard ids")
    p = k.put_record(StreamName=stream, PartitionKey="k", ExplicitHashKey="0", Data=b"zero")
    eq(p["ShardId"], "shardId-000000000000", "put to shard 0")
    for sid in ["shardId-0", "shard-0", "0", "anything-0", "shardId-000000000000"]:
        it = k.get_shard_iterator(StreamName=stream, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        eq([r["Data"] for r in k.get_records(ShardIterator=it)["Records"]], [b"zero"], f"read {sid}")
    eq([s["ShardId"] for s in k.list_shards(StreamName=stream, ExclusiveStartShardId="0")["Shards"]],
       ["shardId-000000000001"], "ListShards ExclusiveStartShardId 0")
    eq([s["ShardId"] for s in k.list_shards(StreamName=stream, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": "shard-0"})["Shards"]],
       ["shardId-000000000001"], "ListShards AFTER_SHARD_ID shard-0")
    msg = expect_error("ResourceNotFoundException", k.get_shard_iterator, StreamName=stream, ShardId="shard-7", ShardIteratorType="LATEST")
    eq(msg, f"Shard shardId-000000000007 in stream {stream} under account {ACCOUNT} does not exist", "not found, canonical")
    for bad in ["shardId-x", "shardId-2147483648"]:
        msg = expect_error("ResourceNotFoundException", k.get_shard_iterator, StreamName=stream, ShardId=bad, ShardIteratorType="LATEST")
        eq(msg, f"Could not find shard {bad} in stream {stream} under account {ACCOUNT}.", f"not found {bad}")

    step("GetShardIterator type and sequence number")
    both = ("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or "
            "(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ")
    for typ in ["LATEST", "TRIM_HORIZON"]:
        msg = expect_error("InvalidArgumentException", k.get_shard_iterator, StreamName=stream, ShardId="0",
                           ShardIteratorType=typ, StartingSequenceNumber=p["SequenceNumber"])
        eq(msg, both + f"Request specified {typ} and also a StartingSequenceNumber.", typ)
    for typ in ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"]:
        msg = expect_error("InvalidArgumentException", k.get_shard_iterator, StreamName=stream, ShardId="0", ShardIteratorType=typ)
        eq(msg, both + f"Request specified {typ} and no StartingSequenceNumber.", typ)
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    msg = expect_error("InvalidArgumentException", k.get_shard_iterator, StreamName=stream, ShardId="0",
                       ShardIteratorType="AT_TIMESTAMP", Timestamp=future)
    if not msg.startswith("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: "):
        fail(f"AT_TIMESTAMP in the future: {msg}")

    step("validation: every problem, in order, before any lookup")
    msg = expect_error("ValidationException", k.create_stream, StreamName="a b", ShardCount=0)
    eq(msg, "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value "
       "greater than or equal to 1; Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular "
       "expression pattern: [a-zA-Z0-9_.-]+", "CreateStream")
    msg = expect_error("ValidationException", k.create_stream, StreamName="x", ShardCount=3000000000)
    eq(msg, "1 validation error detected: Value '2147483647' at 'shardCount' failed to satisfy constraint: Member must have "
       "value less than or equal to 100000", "ShardCount beyond int32")
    long = "k" * 129
    msg = expect_error("ValidationException", k.add_tags_to_stream, StreamName=stream + "-missing", Tags={long: "v"})
    if "at 'tags' failed to satisfy constraint: Map keys must satisfy constraint" not in msg:
        fail(f"long tag key: {msg}")

    step("tag characters")
    chars = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @."
    k.add_tags_to_stream(StreamName=stream, Tags={"Ünï 7_./=+-%@": "välue 9", "keep": ""})
    for bad in ["a:b", "a\tb", "a\nb", "a;b"]:
        eq(expect_error("InvalidArgumentException", k.add_tags_to_stream, StreamName=stream, Tags={bad: "v"}), chars, f"add key {bad!r}")
        eq(expect_error("InvalidArgumentException", k.add_tags_to_stream, StreamName=stream, Tags={"k": bad}), chars, f"add value {bad!r}")
        eq(expect_error("InvalidArgumentException", k.remove_tags_from_stream, StreamName=stream, TagKeys=["keep", bad]), chars, f"remove {bad!r}")
    eq(sorted(t["Key"] for t in k.list_tags_for_stream(StreamName=stream)["Tags"]), ["keep", "Ünï 7_./=+-%@"], "tags unchanged")

    step("merge order")
    msg = expect_error("InvalidArgumentException", k.merge_shards, StreamName=stream, ShardToMerge="1", AdjacentShardToMerge="0")
    eq(msg, f"Shards shardId-000000000001 and shardId-000000000000 in stream {stream} under account {ACCOUNT} are not "
       "an adjacent pair of shards eligible for merging", "merge out of key order")

    step("UPDATING keeps the old layout")
    k.split_shard(StreamName=stream, ShardToSplit="shard-0", NewStartingHashKey=str(HALF // 2))
    eq(k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"], "UPDATING", "status after split")
    shards = k.list_shards(StreamName=stream)["Shards"]
    eq([(s["ShardId"], "EndingSequenceNumber" in s["SequenceNumberRange"]) for s in shards],
       [("shardId-000000000000", False), ("shardId-000000000001", False)], "shards while UPDATING")
    during = k.put_record(StreamName=stream, PartitionKey="k", ExplicitHashKey="1", Data=b"during")
    eq(during["ShardId"], "shardId-000000000000", "write while UPDATING")
    expect_error("ResourceNotFoundException", k.get_shard_iterator, StreamName=stream, ShardId="2", ShardIteratorType="LATEST")
    wait_status(k, stream, "ACTIVE")
    shards = k.list_shards(StreamName=stream)["Shards"]
    eq([(s["ShardId"], s.get("ParentShardId"), "EndingSequenceNumber" in s["SequenceNumberRange"]) for s in shards],
       [("shardId-000000000000", None, True), ("shardId-000000000001", None, False),
        ("shardId-000000000002", "shardId-000000000000", False), ("shardId-000000000003", "shardId-000000000000", False)],
       "shards once ACTIVE")
    eq(k.put_record(StreamName=stream, PartitionKey="k", ExplicitHashKey="1", Data=b"after")["ShardId"],
       "shardId-000000000002", "write once ACTIVE")
    it = k.get_shard_iterator(StreamName=stream, ShardId="0", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = k.get_records(ShardIterator=it)
    eq(([x["Data"] for x in r["Records"]], "NextShardIterator" in r, [c["ShardId"] for c in r["ChildShards"]]),
       ([b"zero", b"during"], False, ["shardId-000000000002", "shardId-000000000003"]), "the parent to its end")
    k.merge_shards(StreamName=stream, ShardToMerge="shard-2", AdjacentShardToMerge="3")
    wait_status(k, stream, "ACTIVE")
    last = k.list_shards(StreamName=stream, ExclusiveStartShardId="shardId-3")["Shards"]
    eq([(s["ShardId"], s["ParentShardId"], s["AdjacentParentShardId"]) for s in last],
       [("shardId-000000000004", "shardId-000000000002", "shardId-000000000003")], "merged with short ids")

    step("SubscribeToShard with a short id")
    arn = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    c = k.register_stream_consumer(StreamARN=arn, ConsumerName="ids")["Consumer"]
    end = time.monotonic() + 60
    while k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        if time.monotonic() > end:
            fail("consumer not ACTIVE within 60s")
        time.sleep(0.1)
    sub = k.subscribe_to_shard(ConsumerARN=c["ConsumerARN"], ShardId="shard-0", StartingPosition={"Type": "TRIM_HORIZON"})
    data = []
    for ev in sub["EventStream"]:
        e = ev["SubscribeToShardEvent"]
        data += [x["Data"] for x in e["Records"]]
        if e.get("ChildShards"):
            break
    sub["EventStream"].close()
    eq(data, [b"zero", b"during"], "subscribed to shard-0")
    k.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])

    step("DELETING: no shards listed")
    k.delete_stream(StreamName=stream, EnforceConsumerDeletion=True)
    d = k.describe_stream(StreamName=stream)["StreamDescription"]
    eq((d["StreamStatus"], d["Shards"]), ("DELETING", []), "DescribeStream while DELETING")
    step("PASS")


if __name__ == "__main__":
    main()
