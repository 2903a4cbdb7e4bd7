package producers

import (
	"math"
	"math/rand/v2"
	"time"
)

// Generator makes the records of one kind of synthetic load. Its output is
// a function of the random source, the times and the picker it is given
// (and of its own state, itself built from them), so the same seed gives
// the same records. A Generator keeps per-entity state (sessions, sensor
// drift, error bursts) and is not safe for concurrent use; a Producer owns
// one.
type Generator interface {
	// Kind names the load, such as "clickstream".
	Kind() string
	// Entities is the number of entities (users, devices, instances) that
	// emit records; a KeyPicker chooses among them.
	Entities() int
	// Key returns the partition key of entity i (0 ≤ i < Entities()); entity
	// 0 is the hot key of the HotKey skew.
	Key(i int) string
	// Next returns the partition key and the JSON data of the next record,
	// stamped with now, from the entity keys picks.
	Next(r *rand.Rand, now time.Time, keys KeyPicker) (partitionKey string, data []byte)
}

// MaxRecordBytes is the largest record the service takes: data plus
// partition key, 1 MiB.
const MaxRecordBytes = 1 << 20

// SizeProfile sets the size of a producer's records. The zero value keeps
// each record at its natural size; a TargetBytes above the natural size pads
// records with a "pad" field to sizes drawn around TargetBytes.
type SizeProfile struct {
	// TargetBytes is the average size of a record's data; 0 means natural.
	TargetBytes int
	// Spread is the relative standard deviation of sizes around the target,
	// such as 0.25; 0 pads every record to exactly TargetBytes.
	Spread float64
}

// padPrefix and padSuffix wrap the padding spliced into a JSON object.
const (
	padPrefix = `,"pad":"`
	padSuffix = `"}`
	padChars  = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// pad grows the JSON object data to a size drawn from the profile by adding
// a "pad" string field; records already at or above the drawn size, and
// data that is not a JSON object, are returned unchanged. The size never
// exceeds what the service accepts alongside keyLen bytes of partition key.
func (sp SizeProfile) pad(r *rand.Rand, data []byte, keyLen int) []byte {
	if sp.TargetBytes <= 0 || len(data) < 2 || data[len(data)-1] != '}' {
		return data
	}
	target := float64(sp.TargetBytes)
	if sp.Spread > 0 {
		target *= 1 + sp.Spread*r.NormFloat64()
	}
	limit := MaxRecordBytes - keyLen
	want := int(math.Round(math.Min(target, float64(limit))))
	body := data[:len(data)-1] // without the closing '}'
	sep := padPrefix
	if len(data) == 2 { // "{}": no comma before the first field
		sep = padPrefix[1:]
	}
	if want <= len(body)+len(sep)+len(padSuffix) {
		return data
	}
	out := make([]byte, 0, want)
	out = append(out, body...)
	out = append(out, sep...)
	for end := want - len(padSuffix); len(out) < end; {
		out = append(out, padChars[:min(len(padChars), end-len(out))]...)
	}
	return append(out, padSuffix...)
}
