// Package producers owns shardscope's synthetic load: record generators
// (clickstream, IoT telemetry, service logs) that emit realistic JSON
// deterministically from a seed, the partition-key skews layered on top of
// them (uniform, Zipf, hot key), and the producer runtime that paces records
// with a token bucket, batches them into PutRecords calls, retries throttled
// records with exponential backoff and full jitter, optionally packs user
// records into KPL aggregated records (an [Aggregator] per predicted
// shard), and reports live statistics to the console.
//
// Producers talk to a [Sink], the two Kinesis actions they need; the
// embedded *engine.Engine is one, and so can be an adapter over the AWS
// SDK. Time comes from an engine.Clock so tests and time-lapse demos drive
// it. A [Set] owns the running producers and their goroutines.
package producers
