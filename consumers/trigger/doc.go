// Package trigger owns Lambda-style event source mappings over a stream:
// a Trigger reads a stream as a consumer application of its own (leases,
// checkpoints, parents before children, from package consumers) and hands
// each batch, as the exact event Lambda sends for Kinesis, to a function
// behind an Invoker: a command (the event on its stdin, its stdout the
// reply) or an HTTP endpoint (the event as a POST body). It applies the
// mapping's settings as the service documents them: BatchSize and the
// batching window, StartingPosition, ParallelizationFactor (concurrent
// batches per shard, order kept per partition key), MaximumRetryAttempts,
// MaximumRecordAgeInSeconds, BisectBatchOnFunctionError,
// ReportBatchItemFailures, an on-failure destination (a file of on-failure
// records, or another stream) and tumbling windows with state passed
// between invocations. Stats gives the console invocations/s, errors,
// retries, IteratorAge and the on-failure count, per shard.
//
// Use: settings from DefaultSettings (or LoadConfig for a triggers file),
// New(src, leases, checkpoints, settings, invoker, destination), Run(ctx),
// Stats(). testdata/runner.js and testdata/runner.py run a handler written
// for Lambda (module.handler) unchanged behind ExecInvoker.
package trigger
