// Package engine owns the Kinesis Data Streams semantics of shardscope:
// streams and their shards over the 128-bit hash-key space, routing,
// sequence numbers, shard iterators, resharding with lineage, retention,
// per-shard throughput limits, subscriptions and metrics.
//
// Its methods map one-to-one onto the Kinesis actions and return *Error
// values carrying the service's error names. Durable state lives in
// storage; the engine never imports the console, the producers or the
// wire layer.
package engine
