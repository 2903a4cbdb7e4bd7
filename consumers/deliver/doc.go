// Package deliver is shardscope's Firehose: a consumer application that
// reads a stream (leases, checkpoints, parents before children, as every
// consumers.App) and delivers its records in buffered batches to a
// destination — a directory, an S3 bucket, or a PostgreSQL table — the way
// Amazon Data Firehose delivers a Kinesis stream: BufferingHints (size in
// MiB, interval in seconds, whichever comes first), optional GZIP,
// newline-delimited records, Firehose's object key layout, and retries
// with backoff while the destination is away.
//
// Delivery is exactly once where the destination allows it. Objects and
// files are named from their shard and first record, which do not depend
// on when the buffer was cut, so a batch delivered again after a crash
// overwrites the earlier object instead of adding one. PostgreSQL loads a
// batch and moves a checkpoint row in the same transaction, and skips the
// records that row says are in already.
package deliver
