package kcl

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The attribute names of a lease item (see the package comment).
const (
	attrLeaseKey          = "leaseKey"
	attrLeaseOwner        = "leaseOwner"
	attrLeaseCounter      = "leaseCounter"
	attrCheckpoint        = "checkpoint"
	attrCheckpointSubSeq  = "checkpointSubSequenceNumber"
	attrPending           = "pendingCheckpoint"
	attrPendingSubSeq     = "pendingCheckpointSubSequenceNumber"
	attrPendingState      = "pendingCheckpointState"
	attrOwnerSwitches     = "ownerSwitchesSinceCheckpoint"
	attrParentShardID     = "parentShardId"
	attrChildShardIDs     = "childShardIds"
	attrChildShardIDOld   = "childShardId" // KCL 2.0–2.2
	attrStartingHashKey   = "startingHashKey"
	attrEndingHashKey     = "endingHashKey"
	attrThroughputKBps    = "throughputKBps"
	attrCheckpointOwner   = "checkpointOwner"
	attrEntityType        = "entityType"
	attrStreamName        = "streamName"
	attrShardID           = "shardId"
	entityLease           = "LEASE"
	checkpointShardEnd    = "SHARD_END"
	checkpointTrimHorizon = "TRIM_HORIZON"
	checkpointLatest      = "LATEST"
	checkpointAtTimestamp = "AT_TIMESTAMP"
)

// ErrNotLease is wrapped by the errors of items that are not KCL lease
// items: no string leaseKey, an attribute of the wrong type, a number that
// is not an integer.
var ErrNotLease = errors.New("not a KCL lease item")

// Lease is one row of a KCL lease table. Attributes the item lacks are
// zero values.
type Lease struct {
	// Key is the leaseKey: a shard ID, or for a multi-stream application
	// "account:stream:creationEpoch:shardId".
	Key string
	// ShardID is the shard the lease is for: the key, the shardId
	// attribute of a multi-stream lease, or the key's last part.
	ShardID string
	// StreamName is set for multi-stream leases only.
	StreamName string
	// Owner is the worker holding the lease, "" when it is free.
	Owner string
	// Counter is leaseCounter, the fencing token.
	Counter int64
	// Checkpoint is a sequence number or a sentinel (TRIM_HORIZON, LATEST,
	// AT_TIMESTAMP, SHARD_END), "" when the item has none;
	// CheckpointSubSequenceNumber goes with it.
	Checkpoint                  string
	CheckpointSubSequenceNumber int64
	// PendingCheckpoint is a prepared checkpoint (prepareCheckpoint), ""
	// when none.
	PendingCheckpoint                  string
	PendingCheckpointSubSequenceNumber int64
	// OwnerSwitchesSinceCheckpoint counts owner changes since the last
	// checkpoint.
	OwnerSwitchesSinceCheckpoint int64
	// ParentShardIDs and ChildShardIDs are the shard's lineage, sorted.
	ParentShardIDs []string
	ChildShardIDs  []string
	// StartingHashKey and EndingHashKey are the hash range, decimal, ""
	// when the item has none (KCL before 2.3).
	StartingHashKey string
	EndingHashKey   string
	// CheckpointOwner is the previous owner while a KCL 3.x hand-off is in
	// progress.
	CheckpointOwner string
	// ThroughputKBps is the load a KCL 3.x worker measured, 0 when absent.
	ThroughputKBps float64
}

// Ended reports whether the lease's shard was processed to its end.
func (l Lease) Ended() bool { return l.Checkpoint == checkpointShardEnd }

// notLease returns an error for an item that is not a lease.
func notLease(key, format string, args ...any) error {
	if key == "" {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotLease)
	}
	return fmt.Errorf("lease %q: %s: %w", key, fmt.Sprintf(format, args...), ErrNotLease)
}

// typeName names an attribute value's DynamoDB type for errors.
func typeName(v types.AttributeValue) string {
	switch v.(type) {
	case *types.AttributeValueMemberS:
		return "S"
	case *types.AttributeValueMemberN:
		return "N"
	case *types.AttributeValueMemberB:
		return "B"
	case *types.AttributeValueMemberSS:
		return "SS"
	case *types.AttributeValueMemberNS:
		return "NS"
	case *types.AttributeValueMemberBS:
		return "BS"
	case *types.AttributeValueMemberM:
		return "M"
	case *types.AttributeValueMemberL:
		return "L"
	case *types.AttributeValueMemberNULL:
		return "NULL"
	case *types.AttributeValueMemberBOOL:
		return "BOOL"
	}
	return fmt.Sprintf("%T", v)
}

// itemReader reads typed attributes of one item, keeping the first error.
type itemReader struct {
	item map[string]types.AttributeValue
	key  string
	err  error
}

func (r *itemReader) fail(name string, v types.AttributeValue, want string) {
	if r.err == nil {
		r.err = notLease(r.key, "attribute %s is %s, want %s", name, typeName(v), want)
	}
}

func (r *itemReader) str(name string) string {
	v, ok := r.item[name]
	if !ok {
		return ""
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(name, v, "S")
		return ""
	}
	return s.Value
}

func (r *itemReader) num(name string) string {
	v, ok := r.item[name]
	if !ok {
		return ""
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return ""
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(name, v, "N")
		return ""
	}
	return n.Value
}

func (r *itemReader) int(name string) int64 {
	s := r.num(name)
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && r.err == nil {
		r.err = notLease(r.key, "attribute %s is %q, want an integer", name, s)
	}
	return n
}

func (r *itemReader) float(name string) float64 {
	s := r.num(name)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && r.err == nil {
		r.err = notLease(r.key, "attribute %s is %q, want a number", name, s)
	}
	return f
}

func (r *itemReader) set(name string) []string {
	v, ok := r.item[name]
	if !ok {
		return nil
	}
	if _, null := v.(*types.AttributeValueMemberNULL); null {
		return nil
	}
	ss, ok := v.(*types.AttributeValueMemberSS)
	if !ok {
		r.fail(name, v, "SS")
		return nil
	}
	out := append([]string(nil), ss.Value...)
	sort.Strings(out)
	return out
}

// ParseItem reads one item of a lease table. ok is false, with no error,
// for rows of a KCL 3.5 single table that are not leases (entityType
// present and not LEASE). An item without a string leaseKey or with an
// attribute of the wrong type is an error wrapping ErrNotLease.
func ParseItem(item map[string]types.AttributeValue) (l Lease, ok bool, err error) {
	r := &itemReader{item: item}
	key, present := item[attrLeaseKey]
	if !present {
		return l, false, notLease("", "no attribute %s", attrLeaseKey)
	}
	ks, isS := key.(*types.AttributeValueMemberS)
	if !isS || ks.Value == "" {
		return l, false, notLease("", "attribute %s is %s, want a non-empty S", attrLeaseKey, typeName(key))
	}
	r.key = ks.Value
	if et := r.str(attrEntityType); et != "" && et != entityLease {
		return l, false, r.err
	}
	l = Lease{
		Key:                                ks.Value,
		StreamName:                         r.str(attrStreamName),
		ShardID:                            r.str(attrShardID),
		Owner:                              r.str(attrLeaseOwner),
		Counter:                            r.int(attrLeaseCounter),
		Checkpoint:                         r.str(attrCheckpoint),
		CheckpointSubSequenceNumber:        r.int(attrCheckpointSubSeq),
		PendingCheckpoint:                  r.str(attrPending),
		PendingCheckpointSubSequenceNumber: r.int(attrPendingSubSeq),
		OwnerSwitchesSinceCheckpoint:       r.int(attrOwnerSwitches),
		ParentShardIDs:                     r.set(attrParentShardID),
		ChildShardIDs:                      r.set(attrChildShardIDs),
		StartingHashKey:                    r.str(attrStartingHashKey),
		EndingHashKey:                      r.str(attrEndingHashKey),
		CheckpointOwner:                    r.str(attrCheckpointOwner),
		ThroughputKBps:                     r.float(attrThroughputKBps),
	}
	if l.ChildShardIDs == nil {
		l.ChildShardIDs = r.set(attrChildShardIDOld)
	}
	if l.ShardID == "" {
		l.ShardID = l.Key
		if i := strings.LastIndexByte(l.Key, ':'); i >= 0 {
			l.ShardID = l.Key[i+1:]
		}
	}
	if c := l.Checkpoint; c != "" && !isCheckpoint(c) && r.err == nil {
		r.err = notLease(l.Key, "checkpoint %q is neither a sequence number nor a sentinel", c)
	}
	if r.err != nil {
		return Lease{}, false, r.err
	}
	return l, true, nil
}

// isCheckpoint reports whether c is what the KCL accepts as a checkpoint
// (ExtendedSequenceNumber): decimal digits or a sentinel.
func isCheckpoint(c string) bool {
	switch c {
	case checkpointShardEnd, checkpointTrimHorizon, checkpointLatest, checkpointAtTimestamp:
		return true
	}
	return isDigits(c)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
