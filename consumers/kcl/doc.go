// Package kcl owns KCL lease tables in DynamoDB: reading them and keeping
// shardscope's own leases in the same layout.
//
// ReadLeases scans a lease table written by the Kinesis Client Library
// (1.x, 2.x or 3.x, including the 3.5 single-table rows, which it skips)
// and returns its leases; Summarize turns them, with what the caller has
// seen of each shard's newest records, into per-worker views, checkpoint
// lag and unowned leases, and Moves compares two reads. NewLeaseTable
// keeps a consumers.App's leases in a DynamoDB table in the item layout
// KCL 2.x writes, with the KCL's conditional writes on leaseCounter, so a
// KCL application and shardscope's consumers can share a table.
//
// The item layout (attribute names and types) is the one of
// DynamoDBLeaseSerializer in awslabs/amazon-kinesis-client:
// https://github.com/awslabs/amazon-kinesis-client/blob/master/amazon-kinesis-client/src/main/java/software/amazon/kinesis/leases/dynamodb/DynamoDBLeaseSerializer.java
//
//	leaseKey                             S   shard ID (hash key); multi-stream: account:stream:epoch:shardId
//	leaseOwner                           S   worker ID; absent when the lease is free
//	leaseCounter                         N   moved by every renewal, take and checkpoint: the fencing token
//	checkpoint                           S   sequence number, TRIM_HORIZON, LATEST, AT_TIMESTAMP or SHARD_END
//	checkpointSubSequenceNumber          N   sub-record of a KPL aggregate
//	ownerSwitchesSinceCheckpoint         N   owner changes since the last checkpoint
//	parentShardId                        SS  parents; absent when none
//	childShardIds                        SS  children, set at the shard's end (2.3+; 2.0–2.2 wrote childShardId)
//	startingHashKey, endingHashKey       S   the shard's hash range (2.3+)
//	pendingCheckpoint(SubSequenceNumber) S/N a prepared checkpoint (2.0+)
//	checkpointOwner, throughputKBps      S/N 3.x: the previous owner during a hand-off; measured load
//	entityType                           S   3.5 single table: LEASE, or another kind of row
//
// This package knows nothing of the console: it returns plain structs.
package kcl
