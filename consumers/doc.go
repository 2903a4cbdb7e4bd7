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
// It talks to a stream only through Source, which the embedded
// *engine.Engine satisfies, and keeps leases in a LeaseStore, which a
// *storage.DB becomes through NewMetaLeases, so the same applications can
// later read a remote Kinesis endpoint. It does not own the engine's
// subscriptions (enhanced fan-out) or any rendering; lease timing is read
// from an injected engine.Clock.
package consumers
