#!/usr/bin/env python3
"""e2e_boto3.py drives a running shardscope Kinesis endpoint with boto3 and
checks every answer: create a stream, put records, read with each iterator
type, split, merge, read across the lineage, change retention, tag, and
delete. It exits non-zero at the first mismatch.

Usage: e2e_boto3.py PORT | e2e_boto3.py http://HOST:PORT
Env:   E2E_STREAM  stream name to use (default e2e-boto3-<pid>)
"""

import datetime
import os
import sys
import time

import boto3
import botocore.config
import botocore.exceptions

HALF = 2**127  # splits the hash-key space in two
MAX_HASH = 2**128 - 1


def fail(msg):
    print(f"e2e_boto3.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def eq(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def step(msg):
    print(f"e2e_boto3.py: {msg}", file=sys.stderr)


def expect_error(code, fn, **kwargs):
    """Calls fn and checks that it fails with the given error code."""
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        eq(e.response["Error"]["Code"], code, f"{fn.__name__} error code")
        if not e.response["ResponseMetadata"].get("RequestId"):
            fail(f"{fn.__name__}: error without a request id")
        return e.response["Error"]["Message"]
    fail(f"{fn.__name__} succeeded, want {code}")


def main():
    if len(sys.argv) != 2:
        fail("usage: e2e_boto3.py PORT|http://HOST:PORT")
    endpoint = sys.argv[1]
    if endpoint.isdigit():
        endpoint = f"http://127.0.0.1:{endpoint}"
    stream = os.environ.get("E2E_STREAM", f"e2e-boto3-{os.getpid()}")
    step(f"endpoint {endpoint}, stream {stream}, boto3 {boto3.__version__}")

    # Dummy credentials and no retries: every answer is the server's first.
    session = boto3.session.Session(
        aws_access_key_id="shardscope", aws_secret_access_key="shardscope", region_name="us-east-1")
    k = session.client("kinesis", endpoint_url=endpoint,
                       config=botocore.config.Config(retries={"total_max_attempts": 1}))

    step("create")
    k.create_stream(StreamName=stream, ShardCount=1)
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    summary = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
    eq((summary["StreamStatus"], summary["OpenShardCount"], summary["RetentionPeriodHours"]), ("ACTIVE", 1, 24), "summary")
    arn = summary["StreamARN"]
    eq(arn, f"arn:aws:kinesis:us-east-1:000000000000:stream/{stream}", "StreamARN")
    if not isinstance(summary["StreamCreationTimestamp"], datetime.datetime):
        fail(f"StreamCreationTimestamp is {summary['StreamCreationTimestamp']!r}")
    if stream not in k.list_streams()["StreamNames"]:
        fail("list_streams does not list the stream")
    expect_error("ResourceInUseException", k.create_stream, StreamName=stream, ShardCount=1)
    msg = expect_error("ValidationException", k.describe_stream, StreamName="bad name!")
    eq(msg, "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: "
       "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", "validation message")

    step("put")
    out = k.put_records(StreamName=stream, Records=[
        {"Data": b"one", "PartitionKey": "k1"},
        {"Data": b"\x00\xffbinary", "PartitionKey": "k2"},
        {"Data": b"three", "PartitionKey": "k3"},
    ])
    eq(out["FailedRecordCount"], 0, "FailedRecordCount")
    seqs = [r["SequenceNumber"] for r in out["Records"]]
    if not all(int(a) < int(b) for a, b in zip(seqs, seqs[1:])):
        fail(f"sequence numbers not increasing: {seqs}")
    shard0 = out["Records"][0]["ShardId"]
    eq(shard0, "shardId-000000000000", "ShardId")
    too_many = [{"Data": b"x", "PartitionKey": "k"}] * 501
    expect_error("ValidationException", k.put_records, StreamName=stream, Records=too_many)
    expect_error("ValidationException", k.put_record, StreamName=stream, PartitionKey="k", Data=b"x" * (1024 * 1024 + 1))
    expect_error("ResourceNotFoundException", k.put_record, StreamName=stream + "-missing", PartitionKey="k", Data=b"x")

    def iterator(shard, kind, **kw):
        return k.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=kind, **kw)["ShardIterator"]

    def read(it):
        """One GetRecords call: (data list, whether a next iterator came, child shards)."""
        r = k.get_records(ShardIterator=it)
        if r["MillisBehindLatest"] < 0:
            fail(f"MillisBehindLatest {r['MillisBehindLatest']}")
        children = [(c["ShardId"], c["ParentShards"]) for c in r.get("ChildShards", [])]
        return [x["Data"] for x in r["Records"]], "NextShardIterator" in r, children, r

    step("read with each iterator type")
    data, has_next, children, r = read(iterator(shard0, "TRIM_HORIZON"))
    eq((data, has_next, children), ([b"one", b"\x00\xffbinary", b"three"], True, []), "TRIM_HORIZON")
    first = r["Records"][0]
    eq((first["PartitionKey"], first["SequenceNumber"], first["EncryptionType"]), ("k1", seqs[0], "NONE"), "record fields")
    if not isinstance(first["ApproximateArrivalTimestamp"], datetime.datetime):
        fail(f"ApproximateArrivalTimestamp is {first['ApproximateArrivalTimestamp']!r}")
    eq(read(iterator(shard0, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]))[0], [b"\x00\xffbinary", b"three"], "AT_SEQUENCE_NUMBER")
    eq(read(iterator(shard0, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1]))[0], [b"three"], "AFTER_SEQUENCE_NUMBER")
    latest = iterator(shard0, "LATEST")
    # botocore sends timestamps in whole seconds: put "four" in a later
    # second than the first three so AT_TIMESTAMP can tell them apart.
    time.sleep(1.05)
    k.put_record(StreamName=stream, PartitionKey="k4", Data=b"four")
    data, _, _, r = read(latest)
    eq(data, [b"four"], "LATEST sees only the later record")
    ts = r["Records"][0]["ApproximateArrivalTimestamp"]
    eq(read(iterator(shard0, "AT_TIMESTAMP", Timestamp=ts))[0], [b"four"], "AT_TIMESTAMP")
    eq(read(k.get_shard_iterator(StreamARN=arn, ShardId=shard0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"])[0][0], b"one", "by StreamARN")
    eq(expect_error("InvalidArgumentException", k.get_records, ShardIterator="not-an-iterator"), "Invalid ShardIterator.", "bad iterator")

    step("split and merge")
    k.split_shard(StreamName=stream, ShardToSplit=shard0, NewStartingHashKey=str(HALF))
    eq(k.put_record(StreamName=stream, PartitionKey="x", ExplicitHashKey="1", Data=b"low")["ShardId"], "shardId-000000000001", "low child")
    eq(k.put_record(StreamName=stream, PartitionKey="x", ExplicitHashKey=str(HALF + 1), Data=b"high")["ShardId"], "shardId-000000000002", "high child")
    expect_error("ResourceInUseException", k.split_shard, StreamName=stream, ShardToSplit=shard0, NewStartingHashKey=str(HALF))
    k.merge_shards(StreamName=stream, ShardToMerge="shardId-000000000001", AdjacentShardToMerge="shardId-000000000002")
    eq(k.put_record(StreamName=stream, PartitionKey="x", Data=b"merged")["ShardId"], "shardId-000000000003", "merged shard")
    shards = k.list_shards(StreamName=stream)["Shards"]
    eq([(s["ShardId"], s.get("ParentShardId"), s.get("AdjacentParentShardId")) for s in shards], [
        ("shardId-000000000000", None, None),
        ("shardId-000000000001", "shardId-000000000000", None),
        ("shardId-000000000002", "shardId-000000000000", None),
        ("shardId-000000000003", "shardId-000000000001", "shardId-000000000002"),
    ], "lineage")
    eq([("EndingSequenceNumber" in s["SequenceNumberRange"]) for s in shards], [True, True, True, False], "closed shards")
    eq(shards[3]["HashKeyRange"], {"StartingHashKey": "0", "EndingHashKey": str(MAX_HASH)}, "merged range")
    page = k.list_shards(StreamName=stream, MaxResults=3)
    eq(len(page["Shards"]), 3, "ListShards page")
    eq([s["ShardId"] for s in k.list_shards(NextToken=page["NextToken"])["Shards"]], ["shardId-000000000003"], "ListShards NextToken")

    step("read across the lineage")
    eq(read(iterator(shard0, "TRIM_HORIZON"))[:3], ([b"one", b"\x00\xffbinary", b"three", b"four"], False, [
        ("shardId-000000000001", ["shardId-000000000000"]), ("shardId-000000000002", ["shardId-000000000000"])]), "parent to its end")
    both = ["shardId-000000000001", "shardId-000000000002"]
    eq(read(iterator("shardId-000000000001", "TRIM_HORIZON"))[:3], ([b"low"], False, [("shardId-000000000003", both)]), "low child")
    eq(read(iterator("shardId-000000000002", "TRIM_HORIZON"))[:3], ([b"high"], False, [("shardId-000000000003", both)]), "high child")
    eq(read(iterator("shardId-000000000003", "TRIM_HORIZON"))[:3], ([b"merged"], True, []), "merged shard")

    step("scale")
    out = k.update_shard_count(StreamName=stream, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    eq((out["CurrentShardCount"], out["TargetShardCount"]), (1, 2), "update_shard_count")
    eq(len(k.list_shards(StreamName=stream, ShardFilter={"Type": "AT_LATEST"})["Shards"]), 2, "open shards after scaling")

    step("retention")
    k.increase_stream_retention_period(StreamName=stream, RetentionPeriodHours=72)
    eq(k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["RetentionPeriodHours"], 72, "after increase")
    k.decrease_stream_retention_period(StreamName=stream, RetentionPeriodHours=24)
    eq(k.describe_stream(StreamName=stream)["StreamDescription"]["RetentionPeriodHours"], 24, "after decrease")
    expect_error("InvalidArgumentException", k.increase_stream_retention_period, StreamName=stream, RetentionPeriodHours=10)
    expect_error("InvalidArgumentException", k.decrease_stream_retention_period, StreamName=stream, RetentionPeriodHours=100)

    step("tags")
    k.add_tags_to_stream(StreamName=stream, Tags={"env": "test", "team": "data"})
    eq(k.list_tags_for_stream(StreamName=stream)["Tags"], [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}], "tags")
    k.remove_tags_from_stream(StreamName=stream, TagKeys=["env"])
    out = k.list_tags_for_stream(StreamName=stream)
    eq((out["Tags"], out["HasMoreTags"]), ([{"Key": "team", "Value": "data"}], False), "tags after remove")

    step("limits")
    limits = k.describe_limits()
    if limits["ShardLimit"] < 1 or limits["OpenShardCount"] < 2:
        fail(f"describe_limits: {limits}")

    step("delete")
    k.delete_stream(StreamName=stream)
    expect_error("ResourceNotFoundException", k.describe_stream_summary, StreamName=stream)
    step("PASS")


if __name__ == "__main__":
    main()
