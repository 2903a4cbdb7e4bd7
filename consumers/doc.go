// Package consumers owns shardscope's consumer applications: polling
// readers that follow a stream's shards and their lineage (parents before
// children), checkpoints kept per application and shard, and the built-in
// processors that turn records into something the console can show (top
// pages, IoT alerts, per-service error rates and latencies).
//
// It talks to a stream only through Source, which the embedded
// *engine.Engine satisfies, so the same applications can later read a
// remote Kinesis endpoint. It does not own leases between several workers
// (one App reads every shard of its stream), the engine's subscriptions,
// or any rendering.
package consumers
