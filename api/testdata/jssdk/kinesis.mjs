// kinesis.mjs drives a shardscope served with signatures, policies and TLS
// with the AWS SDK for JavaScript v3, whose Kinesis client speaks HTTP/2
// only: the right keys work (including a SubscribeToShard event stream);
// a wrong secret, a wrong region, an expired session token, a missing
// permission and a skewed clock get the service's errors.
//
// Usage: node kinesis.mjs URL SKEWED_URL   (trust the servers' certificates
// with NODE_EXTRA_CA_CERTS)
import {
  KinesisClient, CreateStreamCommand, PutRecordCommand, ListStreamsCommand, DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand, SubscribeToShardCommand,
} from "@aws-sdk/client-kinesis";

const [url, skewedURL] = process.argv.slice(2);
const keys = {
  alice: { accessKeyId: "AKIAALICE0000000000", secretAccessKey: "alice/secret" },
  bob: { accessKeyId: "AKIABOB000000000000", secretAccessKey: "bob/secret" },
  wrong: { accessKeyId: "AKIAALICE0000000000", secretAccessKey: "not-alice" },
  old: { accessKeyId: "ASIAOLD000000000000", secretAccessKey: "old/secret", sessionToken: "old-token" },
  temp: { accessKeyId: "ASIATEMP00000000000", secretAccessKey: "temp/secret", sessionToken: "temp-token" },
};

function fail(msg) {
  console.error(`kinesis.mjs: FAIL: ${msg}`);
  process.exit(1);
}

function client(who, { region = "us-east-1", endpoint = url } = {}) {
  return new KinesisClient({ region, endpoint, credentials: keys[who], maxAttempts: 1 });
}

async function wantError(what, name, text, call) {
  try {
    await call();
  } catch (e) {
    const status = e.$metadata?.httpStatusCode;
    if (e.name !== name || !e.message.includes(text) || status !== 400) {
      fail(`${what}: got ${status} ${e.name}: ${e.message}, want 400 ${name} containing ${JSON.stringify(text)}`);
    }
    return;
  }
  fail(`${what}: succeeded, want ${name}`);
}

const stream = `e2e-js-${process.pid}`;
const alice = client("alice");
await alice.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
const put = await alice.send(new PutRecordCommand({ StreamName: stream, PartitionKey: "k", Data: Buffer.from("hello") }));
if (!/^\d+$/.test(put.SequenceNumber)) fail(`PutRecord: ${JSON.stringify(put)}`);
await client("temp").send(new ListStreamsCommand({}));

// An enhanced fan-out read: the request is signed like any; the reply is an event stream.
const summary = await alice.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
const reg = await alice.send(new RegisterStreamConsumerCommand({ StreamARN: summary.StreamDescriptionSummary.StreamARN, ConsumerName: "js" }));
const sub = await alice.send(new SubscribeToShardCommand({
  ConsumerARN: reg.Consumer.ConsumerARN, ShardId: "shardId-000000000000", StartingPosition: { Type: "TRIM_HORIZON" },
}));
let got = null;
for await (const ev of sub.EventStream) {
  const recs = ev.SubscribeToShardEvent?.Records ?? [];
  if (recs.length > 0) {
    got = Buffer.from(recs[0].Data).toString();
    break;
  }
}
if (got !== "hello") fail(`SubscribeToShard read ${got}`);

await wantError("wrong secret", "InvalidSignatureException", "The request signature we calculated does not match", () => client("wrong").send(new ListStreamsCommand({})));
await wantError("wrong region", "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'", () => client("alice", { region: "eu-west-1" }).send(new ListStreamsCommand({})));
await wantError("expired token", "ExpiredTokenException", "The security token included in the request is expired", () => client("old").send(new ListStreamsCommand({})));
await wantError("no permission", "AccessDeniedException", "is not authorized to perform: kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:",
  () => client("bob").send(new PutRecordCommand({ StreamName: stream, PartitionKey: "k", Data: Buffer.from("x") })));
await wantError("skewed clock", "InvalidSignatureException", "Signature expired:", () => client("alice", { endpoint: skewedURL }).send(new ListStreamsCommand({})));
console.error("kinesis.mjs: ok");
process.exit(0);
