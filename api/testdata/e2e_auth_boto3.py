#!/usr/bin/env python3
"""e2e_auth_boto3.py drives a shardscope served with --auth, --policy and
TLS with boto3, using profiles of a shared-credentials file: the right keys
work; a wrong secret, a wrong region, an expired session token, a missing
permission and a skewed clock get the service's errors.

Usage: e2e_auth_boto3.py URL CA_BUNDLE SKEWED_URL SKEWED_CA_BUNDLE
Env:   AWS_SHARED_CREDENTIALS_FILE  profiles alice, bob, wrong, old, temp
"""

import os
import sys

import boto3
import botocore.config
import botocore.exceptions

url, ca, skewed, skewed_ca = sys.argv[1:5]
os.environ["AWS_CONFIG_FILE"] = os.devnull
for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE"):
    os.environ.pop(k, None)
ONCE = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})


def fail(msg):
    print(f"e2e_auth_boto3.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def client(profile, region="us-east-1", endpoint=url, verify=ca):
    s = boto3.session.Session(profile_name=profile, region_name=region)
    return s.client("kinesis", endpoint_url=endpoint, verify=verify, config=ONCE)


def want_error(what, code, text, call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got, msg = e.response["Error"]["Code"], e.response["Error"]["Message"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        if got != code or text not in msg or status != 400:
            fail(f"{what}: got {status} {got}: {msg!r}, want 400 {code} containing {text!r}")
        return
    fail(f"{what}: succeeded, want {code}")


stream = f"e2e-auth-boto3-{os.getpid()}"
alice = client("alice")
alice.create_stream(StreamName=stream, ShardCount=1)
out = alice.put_record(StreamName=stream, PartitionKey="k", Data=b"hello")
if not out["SequenceNumber"].isdigit():
    fail(f"put_record: {out}")
client("temp").list_streams()

want_error("wrong secret", "InvalidSignatureException", "The request signature we calculated does not match", lambda: client("wrong").list_streams())
want_error("wrong region", "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'", lambda: client("alice", region="eu-west-1").list_streams())
want_error("expired token", "ExpiredTokenException", "The security token included in the request is expired", lambda: client("old").list_streams())
want_error("unknown key", "UnrecognizedClientException", "The security token included in the request is invalid", lambda: client("nobody").list_streams())
want_error("no permission", "AccessDeniedException", "is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:",
           lambda: client("bob").put_record(StreamName=stream, PartitionKey="k", Data=b"x"))
want_error("skewed clock", "InvalidSignatureException", "Signature expired:",
           lambda: client("alice", endpoint=skewed, verify=skewed_ca).list_streams())
try:
    client("alice", verify=True).list_streams()
    fail("an untrusted self-signed certificate was accepted")
except botocore.exceptions.SSLError:
    pass
print("e2e_auth_boto3.py: ok", file=sys.stderr)
