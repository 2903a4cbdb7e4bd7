package consumers

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"strconv"

	"github.com/shardscope/shardscope/engine"
)

// KPL aggregation (kinesis-semantics §9): a Kinesis record whose data is
//
//	F3 89 9A C2 | protobuf AggregatedRecord | MD5 of the protobuf bytes
//
// carries several user records. This file decodes it, as the KCL's
// AggregatorUtil does; producers/kpl.go encodes it. The two packages may
// not import each other, so each side keeps the few constants of the
// format it needs (the magic, the field numbers) next to its half.

// kplMagic starts the data of an aggregated record.
var kplMagic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// The protobuf field numbers of the format (proto2).
const (
	aggPartitionKeyTable    = 1 // AggregatedRecord: repeated string
	aggExplicitHashKeyTable = 2 // AggregatedRecord: repeated string
	aggRecords              = 3 // AggregatedRecord: repeated Record
	recPartitionKeyIndex    = 1 // Record: required uint64
	recExplicitHashKeyIndex = 2 // Record: optional uint64
	recData                 = 3 // Record: required bytes
	recTags                 = 4 // Record: repeated Tag
	tagKey                  = 1 // Tag: required string
)

// Protobuf wire types.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// UserRecord is a record as a RecordProcessor sees it: a plain Kinesis
// record, or one user record of a KPL aggregated record. A user record of
// an aggregate inherits the container's SequenceNumber, arrival time and
// encryption type, takes its PartitionKey (and ExplicitHashKey) from the
// aggregate's tables, and has SubSequenceNumber = its 0-based index.
type UserRecord struct {
	engine.Record
	// SubSequenceNumber is the index of the user record in its aggregate,
	// 0 for a plain record.
	SubSequenceNumber int64
	// Aggregated reports whether the record came out of an aggregate.
	Aggregated bool
}

// Position returns the record's extended sequence number.
func (r UserRecord) Position() ExtendedSequenceNumber {
	return ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
}

// Deaggregate expands KPL aggregated records into their user records and
// passes every other record through unchanged, keeping the order. A record
// counts as aggregated only when its data starts with the magic, has more
// than 16 bytes after it, the trailing MD5 matches and the protobuf parses
// into a well-formed AggregatedRecord (required fields present, table
// indexes and explicit hash keys valid); otherwise it is passed through.
//
// When shard is not nil, an aggregate with any user record whose effective
// hash key (its explicit hash key, else the MD5 of its partition key) lies
// outside *shard is dropped whole — it was written to a shard it does not
// belong to — and counted in dropped.
func Deaggregate(records []engine.Record, shard *engine.HashKeyRange) (out []UserRecord, dropped int) {
	out = make([]UserRecord, 0, len(records))
	for _, r := range records {
		agg, ok := parseAggregated(r.Data)
		if !ok {
			out = append(out, UserRecord{Record: r})
			continue
		}
		if shard != nil && !agg.within(*shard) {
			dropped++
			continue
		}
		for i, sub := range agg.records {
			u := UserRecord{Record: r, SubSequenceNumber: int64(i), Aggregated: true}
			u.Data = sub.data
			u.PartitionKey = agg.pkTable[sub.pkIndex]
			u.ExplicitHashKey = ""
			if sub.hasEHK {
				u.ExplicitHashKey = agg.ehkTable[sub.ehkIndex]
			}
			out = append(out, u)
		}
	}
	return out, dropped
}

// IsAggregated reports whether data is a well-formed KPL aggregated record
// (see Deaggregate).
func IsAggregated(data []byte) bool {
	_, ok := parseAggregated(data)
	return ok
}

// kplAggregate is a decoded AggregatedRecord.
type kplAggregate struct {
	pkTable  []string
	ehkTable []string
	records  []kplRecord
	hashes   []engine.HashKey // effective hash key of each record
}

type kplRecord struct {
	pkIndex  uint64
	ehkIndex uint64
	hasEHK   bool
	data     []byte
}

func (a *kplAggregate) within(r engine.HashKeyRange) bool {
	for _, h := range a.hashes {
		if !r.Contains(h) {
			return false
		}
	}
	return true
}

// parseAggregated decodes data as an aggregated record; ok is false when
// it is not one. The user records' data alias data.
func parseAggregated(data []byte) (agg kplAggregate, ok bool) {
	if len(data) <= len(kplMagic)+md5.Size || !bytes.HasPrefix(data, kplMagic) {
		return agg, false
	}
	body := data[len(kplMagic) : len(data)-md5.Size]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return agg, false
	}
	if !agg.unmarshal(body) {
		return agg, false
	}
	agg.hashes = make([]engine.HashKey, len(agg.records))
	for i, r := range agg.records {
		if r.pkIndex >= uint64(len(agg.pkTable)) {
			return agg, false
		}
		if r.hasEHK {
			if r.ehkIndex >= uint64(len(agg.ehkTable)) {
				return agg, false
			}
			h, good := engine.ParseHashKey(agg.ehkTable[r.ehkIndex])
			if !good {
				return agg, false
			}
			agg.hashes[i] = h
		} else {
			agg.hashes[i] = engine.HashPartitionKey(agg.pkTable[r.pkIndex])
		}
	}
	return agg, true
}

// unmarshal parses an AggregatedRecord as proto2 does: fields in any order,
// unknown fields (and known ones of an unexpected wire type) skipped.
func (a *kplAggregate) unmarshal(b []byte) bool {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		if typ == wireBytes && (num == aggPartitionKeyTable || num == aggExplicitHashKeyTable || num == aggRecords) {
			v, m := consumeBytes(b)
			if m <= 0 {
				return false
			}
			b = b[m:]
			switch num {
			case aggPartitionKeyTable:
				a.pkTable = append(a.pkTable, string(v))
			case aggExplicitHashKeyTable:
				a.ehkTable = append(a.ehkTable, string(v))
			default:
				var r kplRecord
				if !r.unmarshal(v) {
					return false
				}
				a.records = append(a.records, r)
			}
			continue
		}
		m := skipValue(b, num, typ, 0)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return true
}

// unmarshal parses a Record; it fails without the required fields.
func (r *kplRecord) unmarshal(b []byte) bool {
	var hasPK, hasData bool
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		switch {
		case typ == wireVarint && (num == recPartitionKeyIndex || num == recExplicitHashKeyIndex):
			v, m := binary.Uvarint(b)
			if m <= 0 {
				return false
			}
			b = b[m:]
			if num == recPartitionKeyIndex {
				r.pkIndex, hasPK = v, true
			} else {
				r.ehkIndex, r.hasEHK = v, true
			}
		case typ == wireBytes && (num == recData || num == recTags):
			v, m := consumeBytes(b)
			if m <= 0 {
				return false
			}
			b = b[m:]
			if num == recData {
				r.data, hasData = v, true
			} else if !validTag(v) {
				return false
			}
		default:
			m := skipValue(b, num, typ, 0)
			if m < 0 {
				return false
			}
			b = b[m:]
		}
	}
	return hasPK && hasData
}

// validTag checks that a Tag message parses and has its required key.
func validTag(b []byte) bool {
	hasKey := false
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n <= 0 {
			return false
		}
		b = b[n:]
		if num == tagKey && typ == wireBytes {
			hasKey = true
		}
		m := skipValue(b, num, typ, 0)
		if m < 0 {
			return false
		}
		b = b[m:]
	}
	return hasKey
}

// consumeTag reads a field tag; n ≤ 0 when it is malformed.
func consumeTag(b []byte) (num uint64, typ int, n int) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, 0, -1
	}
	num, typ = v>>3, int(v&7)
	if num == 0 || num > 1<<29-1 {
		return 0, 0, -1
	}
	return num, typ, n
}

// consumeBytes reads a length-delimited value; n ≤ 0 when truncated.
func consumeBytes(b []byte) (v []byte, n int) {
	l, m := binary.Uvarint(b)
	if m <= 0 || l > uint64(len(b)-m) {
		return nil, -1
	}
	return b[m : m+int(l)], m + int(l)
}

// skipValue returns the length of a field value of the given wire type, or
// -1 when it is malformed. Groups are skipped up to their matching end.
func skipValue(b []byte, num uint64, typ, depth int) int {
	switch typ {
	case wireVarint:
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return -1
		}
		return n
	case wireFixed64:
		if len(b) < 8 {
			return -1
		}
		return 8
	case wireFixed32:
		if len(b) < 4 {
			return -1
		}
		return 4
	case wireBytes:
		_, n := consumeBytes(b)
		return n
	case wireStartGroup:
		if depth >= 100 {
			return -1
		}
		total := 0
		for {
			inner, t, n := consumeTag(b[total:])
			if n <= 0 {
				return -1
			}
			total += n
			if t == wireEndGroup {
				if inner != num {
					return -1
				}
				return total
			}
			m := skipValue(b[total:], inner, t, depth+1)
			if m < 0 {
				return -1
			}
			total += m
		}
	}
	return -1 // an end-group without a start, or wire types 6 and 7
}

// ExtendedSequenceNumber is a position in a shard: a record's sequence
// number and, for a user record of a KPL aggregate, its sub-sequence
// number. SequenceNumber may also be one of the checkpoint sentinels
// CheckpointTrimHorizon, CheckpointLatest, CheckpointAtTimestamp and
// ShardEnd.
type ExtendedSequenceNumber struct {
	SequenceNumber    string
	SubSequenceNumber int64
}

// String returns the position as a checkpoint string: the sequence number,
// followed by "/" and the sub-sequence number when that is not 0.
func (e ExtendedSequenceNumber) String() string {
	if e.SubSequenceNumber == 0 {
		return e.SequenceNumber
	}
	return e.SequenceNumber + "/" + strconv.FormatInt(e.SubSequenceNumber, 10)
}

// ParseExtendedSequenceNumber reads what String wrote. A string without a
// valid "/n" suffix is taken whole as the sequence number.
func ParseExtendedSequenceNumber(s string) ExtendedSequenceNumber {
	if i := bytes.LastIndexByte([]byte(s), '/'); i > 0 {
		if n, err := strconv.ParseInt(s[i+1:], 10, 64); err == nil && n >= 0 {
			return ExtendedSequenceNumber{SequenceNumber: s[:i], SubSequenceNumber: n}
		}
	}
	return ExtendedSequenceNumber{SequenceNumber: s}
}

// isSequenceNumber reports whether s is a decimal sequence number (not a
// sentinel).
func isSequenceNumber(s string) bool {
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

// cmpSeq compares two decimal sequence numbers as integers (leading zeros
// allowed).
func cmpSeq(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	switch {
	case len(a) != len(b):
		if len(a) < len(b) {
			return -1
		}
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

// rank orders positions: before any record (TRIM_HORIZON, LATEST, none or
// unreadable), a record, after every record (SHARD_END).
func (e ExtendedSequenceNumber) rank() int {
	switch {
	case e.SequenceNumber == ShardEnd:
		return 2
	case isSequenceNumber(e.SequenceNumber):
		return 1
	}
	return 0
}

// compare orders two positions; sentinels before records compare equal.
func (e ExtendedSequenceNumber) compare(o ExtendedSequenceNumber) int {
	if r1, r2 := e.rank(), o.rank(); r1 != r2 || r1 != 1 {
		switch {
		case r1 < r2:
			return -1
		case r1 > r2:
			return 1
		}
		return 0
	}
	if c := cmpSeq(e.SequenceNumber, o.SequenceNumber); c != 0 {
		return c
	}
	switch {
	case e.SubSequenceNumber < o.SubSequenceNumber:
		return -1
	case e.SubSequenceNumber > o.SubSequenceNumber:
		return 1
	}
	return 0
}
