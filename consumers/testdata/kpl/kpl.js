'use strict';
// Aggregates or de-aggregates KPL records with aws-kinesis-agg, for
// consumers/kpl_interop_test.go. All bytes travel as base64 in JSON.
//
//   node kpl.js aggregate   < {"records":[{"partitionKey","explicitHashKey"?,"data"}]}
//     prints {"records":[{"partitionKey","explicitHashKey"?,"data"}]}: the
//     aggregated Kinesis records, each at most 1 MiB.
//   node kpl.js deaggregate < {"records":[{"sequenceNumber","partitionKey","data"}]}
//     prints {"records":[{"sequenceNumber","subSequenceNumber"?,"partitionKey","explicitHashKey"?,"data"}]}:
//     the user records (a plain record passes through without a subSequenceNumber).
//
// Quirks of aws-kinesis-agg 4.2.8 the Go test works around:
// - Its aggregator builds the key tables with Object.keys, which lists
//   array-index-like keys ("42", "0": integers below 2^32 - 1) first while
//   the indexes follow insertion order, so aggregates mixing such partition
//   keys, or such explicit hash keys, carry the wrong keys. The test's keys
//   are not index-like and its explicit hash keys are 2^32 or more.
// - Its de-aggregator reports explicit_hash_key_table[0] for a user record
//   without an explicit hash key (an absent index reads as 0).
const fs = require('fs');
const agg = require('aws-kinesis-agg');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const out = [];

function encoded(e) {
  const r = { partitionKey: e.partitionKey, data: e.data.toString('base64') };
  if (e.ExplicitHashKey) r.explicitHashKey = e.ExplicitHashKey;
  return r;
}

switch (process.argv[2]) {
  case 'aggregate': {
    const ra = new agg.RecordAggregator();
    for (const u of input.records) {
      const rec = { partitionKey: u.partitionKey, data: Buffer.from(u.data, 'base64') };
      if (u.explicitHashKey) rec.explicitHashKey = u.explicitHashKey;
      if (ra.length() > 0 && !ra.checkIfUserRecordFits(rec)) out.push(encoded(ra.build()));
      ra.addUserRecord(rec);
    }
    if (ra.length() > 0) out.push(encoded(ra.build()));
    break;
  }
  case 'deaggregate':
    for (const r of input.records) {
      agg.deaggregateSync({ sequenceNumber: r.sequenceNumber, partitionKey: r.partitionKey, data: r.data }, true, (err, users) => {
        if (err) throw err;
        for (const u of users) {
          const o = { sequenceNumber: u.sequenceNumber, partitionKey: u.partitionKey, data: u.data };
          if (u.subSequenceNumber !== undefined) o.subSequenceNumber = u.subSequenceNumber;
          if (u.explicitPartitionKey) o.explicitHashKey = u.explicitPartitionKey;
          out.push(o);
        }
      });
    }
    break;
  default:
    console.error('usage: node kpl.js aggregate|deaggregate < input.json');
    process.exit(2);
}
process.stdout.write(JSON.stringify({ records: out }) + '\n');
