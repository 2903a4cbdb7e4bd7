package producers

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shardscope/shardscope/engine"
)

// KPL aggregation (kinesis-semantics §9): many user records travel in one
// Kinesis record whose data is
//
//	F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes
//
// This file encodes it by hand (three tiny proto2 messages); the decoder
// is consumers.Deaggregate. The two packages may not import each other, so
// each keeps the constants of the format next to its half.

var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// Field tags (field number << 3 | wire type) of the messages; every field
// here is length-delimited (2) or a varint (0).
const (
	tagPartitionKeyTable    = 1<<3 | 2 // AggregatedRecord.partition_key_table
	tagExplicitHashKeyTable = 2<<3 | 2 // AggregatedRecord.explicit_hash_key_table
	tagRecords              = 3<<3 | 2 // AggregatedRecord.records
	tagPartitionKeyIndex    = 1<<3 | 0 // Record.partition_key_index
	tagExplicitHashKeyIndex = 2<<3 | 0 // Record.explicit_hash_key_index
	tagData                 = 3<<3 | 2 // Record.data
)

// kplOverhead is the magic plus the MD5 around the protobuf bytes.
const kplOverhead = 4 + md5.Size

// DefaultAggregateMaxBytes is the KPL's default AggregationMaxSize: an
// aggregated record is at most 50 KiB unless configured otherwise.
const DefaultAggregateMaxBytes = 51200

// UserRecord is one record for an Aggregator.
type UserRecord struct {
	PartitionKey string
	// ExplicitHashKey, when set, replaces the MD5 of the partition key for
	// routing (a decimal 128-bit number).
	ExplicitHashKey string
	Data            []byte
}

// Aggregation errors.
var (
	// ErrAggregateFull: the record does not fit in what the Aggregator
	// holds; Build first.
	ErrAggregateFull = errors.New("producers: aggregated record is full")
	// ErrRecordTooLarge: the record does not fit in an aggregated record
	// even alone.
	ErrRecordTooLarge = errors.New("producers: user record too large to aggregate")
)

// Aggregator packs user records into one KPL aggregated record of at most
// maxBytes (data plus the container's partition key, as the service
// counts a record), with partition-key and explicit-hash-key tables. The
// container takes the first user record's partition key and explicit
// hash key, so it is routed as that record would be. The zero value is not
// usable; an Aggregator is not safe for concurrent use.
type Aggregator struct {
	maxBytes int
	pkIndex  map[string]uint64
	pkTable  []string
	ehkIndex map[string]uint64
	ehkTable []string
	records  []aggEntry
	body     int // protobuf bytes so far
}

type aggEntry struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

// NewAggregator returns an empty Aggregator whose records are at most
// maxBytes; maxBytes ≤ 0 or above MaxRecordBytes means MaxRecordBytes.
func NewAggregator(maxBytes int) *Aggregator {
	if maxBytes <= 0 || maxBytes > MaxRecordBytes {
		maxBytes = MaxRecordBytes
	}
	a := &Aggregator{maxBytes: maxBytes}
	a.Reset()
	return a
}

// Reset empties the Aggregator.
func (a *Aggregator) Reset() {
	a.pkIndex, a.pkTable = map[string]uint64{}, nil
	a.ehkIndex, a.ehkTable = map[string]uint64{}, nil
	a.records, a.body = nil, 0
}

// Len returns the number of user records held.
func (a *Aggregator) Len() int { return len(a.records) }

// Size returns the size Build's record would have: data plus partition key.
func (a *Aggregator) Size() int {
	if len(a.records) == 0 {
		return 0
	}
	return kplOverhead + a.body + len(a.pkTable[0])
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// fieldLen is the encoded size of a length-delimited field of n bytes.
func fieldLen(n int) int { return 1 + uvarintLen(uint64(n)) + n }

// growth returns how many protobuf bytes adding r would take.
func (a *Aggregator) growth(r UserRecord) int {
	n := 0
	pk, ok := a.pkIndex[r.PartitionKey]
	if !ok {
		pk = uint64(len(a.pkTable))
		n += fieldLen(len(r.PartitionKey))
	}
	rec := 1 + uvarintLen(pk) + fieldLen(len(r.Data))
	if r.ExplicitHashKey != "" {
		ehk, ok := a.ehkIndex[r.ExplicitHashKey]
		if !ok {
			ehk = uint64(len(a.ehkTable))
			n += fieldLen(len(r.ExplicitHashKey))
		}
		rec += 1 + uvarintLen(ehk)
	}
	return n + fieldLen(rec)
}

// sizeWith returns Size after adding r.
func (a *Aggregator) sizeWith(r UserRecord) int {
	key := r.PartitionKey
	if len(a.records) > 0 {
		key = a.pkTable[0]
	}
	return kplOverhead + a.body + a.growth(r) + len(key)
}

// Fits reports whether Add would take r now.
func (a *Aggregator) Fits(r UserRecord) bool { return a.sizeWith(r) <= a.maxBytes }

// Add appends a user record. It fails with ErrAggregateFull when r does
// not fit with what is held, ErrRecordTooLarge when it cannot fit at all,
// and for an empty partition key or a malformed explicit hash key.
func (a *Aggregator) Add(r UserRecord) error {
	if r.PartitionKey == "" {
		return errors.New("producers: user record without a partition key")
	}
	if r.ExplicitHashKey != "" {
		if _, ok := engine.ParseHashKey(r.ExplicitHashKey); !ok {
			return fmt.Errorf("producers: explicit hash key %q is not a 128-bit decimal", r.ExplicitHashKey)
		}
	}
	if !a.Fits(r) {
		if len(a.records) > 0 && NewAggregator(a.maxBytes).Fits(r) {
			return ErrAggregateFull
		}
		return ErrRecordTooLarge
	}
	a.body += a.growth(r)
	e := aggEntry{data: r.Data}
	pk, ok := a.pkIndex[r.PartitionKey]
	if !ok {
		pk = uint64(len(a.pkTable))
		a.pkIndex[r.PartitionKey] = pk
		a.pkTable = append(a.pkTable, r.PartitionKey)
	}
	e.pk = pk
	if r.ExplicitHashKey != "" {
		ehk, ok := a.ehkIndex[r.ExplicitHashKey]
		if !ok {
			ehk = uint64(len(a.ehkTable))
			a.ehkIndex[r.ExplicitHashKey] = ehk
			a.ehkTable = append(a.ehkTable, r.ExplicitHashKey)
		}
		e.ehk, e.hasEHK = ehk, true
	}
	a.records = append(a.records, e)
	return nil
}

// Build returns the aggregated record of the user records held, as a
// PutRecords entry, and empties the Aggregator. ok is false when it held
// none.
func (a *Aggregator) Build() (entry engine.PutRecordsEntry, ok bool) {
	if len(a.records) == 0 {
		return entry, false
	}
	buf := make([]byte, 0, a.Size())
	buf = append(buf, kplMagic...)
	for _, pk := range a.pkTable {
		buf = appendField(buf, tagPartitionKeyTable, []byte(pk))
	}
	for _, ehk := range a.ehkTable {
		buf = appendField(buf, tagExplicitHashKeyTable, []byte(ehk))
	}
	var rec []byte
	for _, e := range a.records {
		rec = rec[:0]
		rec = binary.AppendUvarint(append(rec, tagPartitionKeyIndex), e.pk)
		if e.hasEHK {
			rec = binary.AppendUvarint(append(rec, tagExplicitHashKeyIndex), e.ehk)
		}
		rec = appendField(rec, tagData, e.data)
		buf = appendField(buf, tagRecords, rec)
	}
	sum := md5.Sum(buf[len(kplMagic):])
	buf = append(buf, sum[:]...)
	entry = engine.PutRecordsEntry{Data: buf, PartitionKey: a.pkTable[0]}
	if a.records[0].hasEHK {
		entry.ExplicitHashKey = a.ehkTable[a.records[0].ehk]
	}
	a.Reset()
	return entry, true
}

func appendField(b []byte, tag byte, v []byte) []byte {
	b = binary.AppendUvarint(append(b, tag), uint64(len(v)))
	return append(b, v...)
}

// Aggregate packs records, in order, into as few aggregated records of at
// most maxBytes as it can (see NewAggregator). Records are not grouped by
// shard: give it records of one shard (or one partition key), or the
// consumer will drop aggregates whose records hash outside the shard they
// land in.
func Aggregate(records []UserRecord, maxBytes int) ([]engine.PutRecordsEntry, error) {
	a := NewAggregator(maxBytes)
	var out []engine.PutRecordsEntry
	for i, r := range records {
		err := a.Add(r)
		if errors.Is(err, ErrAggregateFull) {
			e, _ := a.Build()
			out = append(out, e)
			err = a.Add(r)
		}
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	if e, ok := a.Build(); ok {
		out = append(out, e)
	}
	return out, nil
}
