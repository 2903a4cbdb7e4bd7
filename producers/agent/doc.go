// Package agent is shardscope's Kinesis Agent: it tails log files into a
// stream the way the Amazon Kinesis Agent does. It reads the agent's own
// agent.json (flows with filePattern, kinesisStream, partitionKeyOption,
// initialPosition, buffering, multiLineStartPattern, skipHeaderLines,
// dataProcessingOptions …), follows files across rename and truncate
// rotation by their inode, keeps a checkpoint file of offsets so a restart
// resumes where the last acknowledged record ended, batches records into
// PutRecords calls through a producers.Sink (the embedded engine or a
// remote stream), resends the records a call failed with backoff, and
// paces itself to a records-per-second limit of its own.
//
// Delivery is at least once: a record is checkpointed only after the
// stream acknowledged it, so a crash between the two sends it again after
// the restart. Nothing acknowledged is skipped, and without a crash every
// line arrives once.
package agent
