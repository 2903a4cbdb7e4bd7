#!/usr/bin/env python3
"""e2e_settings_boto3.py drives a running shardscope Kinesis endpoint with
boto3 through the settings actions: enhanced monitoring, ARN-based tagging
(stream and consumer), account settings, the maximum record size (and a
3 MiB record written and read back) and warm throughput. It exits non-zero
at the first mismatch.

Usage: e2e_settings_boto3.py PORT | e2e_settings_boto3.py http://HOST:PORT
Env:   E2E_STREAM  stream name prefix (default e2e-set-boto3-<pid>)
"""

import datetime
import os
import sys

import boto3
import botocore.config
import botocore.exceptions

ALL = ["IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
       "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"]


def fail(msg):
    print(f"e2e_settings_boto3.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def eq(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def step(msg):
    print(f"e2e_settings_boto3.py: {msg}", file=sys.stderr)


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except botocore.exceptions.ClientError as e:
        eq(e.response["Error"]["Code"], code, f"{fn.__name__} error code")
        return e.response["Error"]["Message"]
    fail(f"{fn.__name__} succeeded, want {code}")


def main():
    if len(sys.argv) != 2:
        fail("usage: e2e_settings_boto3.py PORT|http://HOST:PORT")
    endpoint = sys.argv[1]
    if endpoint.isdigit():
        endpoint = f"http://127.0.0.1:{endpoint}"
    stream = os.environ.get("E2E_STREAM", f"e2e-set-boto3-{os.getpid()}")
    od = stream + "-od"
    step(f"endpoint {endpoint}, stream {stream}, boto3 {boto3.__version__}")
    session = boto3.session.Session(
        aws_access_key_id="shardscope", aws_secret_access_key="shardscope", region_name="us-east-1")
    k = session.client("kinesis", endpoint_url=endpoint,
                       config=botocore.config.Config(retries={"total_max_attempts": 1}))
    k.create_stream(StreamName=stream, ShardCount=1)
    k.create_stream(StreamName=od, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    arn = k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]

    step("enhanced monitoring")
    out = k.enable_enhanced_monitoring(StreamName=stream, ShardLevelMetrics=["ALL"])
    eq((out["StreamName"], out["StreamARN"], out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]),
       (stream, arn, [], ALL), "enable ALL")
    out = k.disable_enhanced_monitoring(StreamARN=arn, ShardLevelMetrics=["IncomingRecords", "IteratorAgeMilliseconds"])
    left = [m for m in ALL if m not in ("IncomingRecords", "IteratorAgeMilliseconds")]
    eq((out["CurrentShardLevelMetrics"], out["DesiredShardLevelMetrics"]), (ALL, left), "disable two")
    desc = k.describe_stream(StreamName=stream)["StreamDescription"]
    eq(desc["EnhancedMonitoring"], [{"ShardLevelMetrics": left}], "DescribeStream EnhancedMonitoring")
    expect_error("ResourceNotFoundException", k.enable_enhanced_monitoring, StreamName=stream + "-missing", ShardLevelMetrics=["ALL"])

    step("tag-resource on a stream and a consumer")
    consumer = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]["ConsumerARN"]
    k.tag_resource(ResourceARN=arn, Tags={"env": "test", "team": "data"})
    k.tag_resource(ResourceARN=consumer, Tags={"tier": "gold"})
    k.untag_resource(ResourceARN=arn, TagKeys=["env"])
    eq(k.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "team", "Value": "data"}], "stream tags")
    eq(k.list_tags_for_stream(StreamName=stream)["Tags"], [{"Key": "team", "Value": "data"}], "ListTagsForStream")
    eq(k.list_tags_for_resource(ResourceARN=consumer)["Tags"], [{"Key": "tier", "Value": "gold"}], "consumer tags")
    expect_error("ResourceNotFoundException", k.list_tags_for_resource, ResourceARN=arn + "-missing")

    step("max record size")
    big = b"x" * (3 << 20)
    expect_error("ValidationException", k.put_record, StreamName=stream, PartitionKey="k", Data=big)
    expect_error("ValidationException", k.update_max_record_size, StreamARN=arn, MaxRecordSizeInKiB=10241)
    k.update_max_record_size(StreamARN=arn, MaxRecordSizeInKiB=4096)
    eq(k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["MaxRecordSizeInKiB"], 4096, "MaxRecordSizeInKiB")
    shard = k.put_record(StreamName=stream, PartitionKey="k", Data=big)["ShardId"]
    it = k.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = k.get_records(ShardIterator=it)["Records"]
    eq([len(r["Data"]) for r in recs], [len(big)], "3 MiB record read back")

    step("account settings and warm throughput")
    eq(k.describe_account_settings()["MinimumThroughputBillingCommitment"], {"Status": "DISABLED"}, "account")
    expect_error("InvalidArgumentException", k.update_stream_warm_throughput, StreamName=od, WarmThroughputMiBps=6)
    c = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})["MinimumThroughputBillingCommitment"]
    eq(c["Status"], "ENABLED", "commitment")
    if not isinstance(c["StartedAt"], datetime.datetime) or c["EarliestAllowedEndAt"] - c["StartedAt"] != datetime.timedelta(hours=24):
        fail(f"commitment times {c}")
    w = k.update_stream_warm_throughput(StreamName=od, WarmThroughputMiBps=6)
    eq((w["StreamName"], w["WarmThroughput"]), (od, {"TargetMiBps": 6, "CurrentMiBps": 4}), "warm throughput")
    s = k.describe_stream_summary(StreamName=od)["StreamDescriptionSummary"]
    eq((s["OpenShardCount"], s["WarmThroughput"]), (6, {"TargetMiBps": 6, "CurrentMiBps": 6}), "warm summary")
    expect_error("InvalidArgumentException", k.update_stream_warm_throughput, StreamName=stream, WarmThroughputMiBps=6)
    c = k.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})["MinimumThroughputBillingCommitment"]
    eq((c["Status"], c["EndedAt"]), ("ENABLED_UNTIL_EARLIEST_ALLOWED_END", c["EarliestAllowedEndAt"]), "early disable")

    step("PASS")


if __name__ == "__main__":
    main()
