// Package consumers owns shardscope's consumer applications, shaped like
// the Kinesis Client Library: an application (a name) runs workers that
// share a stream's shards through a lease table (owner, a counter that
// fences every write, checkpoint, parents), take free or expired leases,
// renew their own, balance shards between them and hand leases back when
// they stop. A worker reads each of its shards parents first, expands KPL
// aggregated records into user records, and feeds a RecordProcessor per
// shard (Initialize, ProcessRecords with a Checkpointer, Shutdown). The
// built-in processors turn records into something the console can show
// (top pages, IoT alerts, per-service error rates and latencies).
//
// An application reads either by polling (GetShardIterator and
// GetRecords, sharing each shard's 5 calls/s and 2 MiB/s with every other
// polling application) or, with Config.FanOut, by enhanced fan-out: it
// registers a stream consumer and each shard reader follows its shard with
// SubscribeToShard, a dedicated 2 MiB/s per shard, renewing the
// subscription every 5 minutes. A Group runs applications together; they
// can be added and removed while it runs.
//
// It talks to a stream only through Source (FanOutSource for fan-out),
// which the embedded *engine.Engine satisfies (through EngineSource for
// fan-out), and keeps leases in a LeaseTable: by default a bucket of a
// LeaseStore, which a *storage.DB becomes through NewMetaLeases, or a
// DynamoDB table in the KCL's own layout (consumers/kcl), so the same
// applications can read a remote Kinesis endpoint beside KCL applications. It does not do any rendering; lease timing is read
// from an injected engine.Clock.
package consumers
