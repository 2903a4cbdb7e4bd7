package remote

import (
	"fmt"
	"strings"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// From is where the console starts reading each shard (--from).
type From struct {
	Type engine.IteratorType // Latest, TrimHorizon, AtTimestamp or AtSequenceNumber
	At   time.Time           // AtTimestamp
	Seq  string              // AtSequenceNumber
}

// String is the flag's spelling.
func (f From) String() string {
	switch f.Type {
	case engine.TrimHorizon:
		return "trim-horizon"
	case engine.AtTimestamp:
		return "at-timestamp=" + f.At.Format(time.RFC3339)
	case engine.AtSequenceNumber:
		return "at-sequence=" + f.Seq
	}
	return "latest"
}

// ParseFrom reads --from: trim-horizon, latest, at-timestamp=RFC3339 or
// at-sequence=N.
func ParseFrom(s string) (From, error) {
	switch k, v, _ := strings.Cut(s, "="); k {
	case "", "latest":
		return From{Type: engine.Latest}, nil
	case "trim-horizon":
		return From{Type: engine.TrimHorizon}, nil
	case "at-timestamp":
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return From{}, fmt.Errorf("--from at-timestamp=%s: want RFC 3339, such as 2026-12-03T18:00:00Z: %w", v, err)
		}
		return From{Type: engine.AtTimestamp, At: t}, nil
	case "at-sequence":
		if v == "" || strings.Trim(v, "0123456789") != "" {
			return From{}, fmt.Errorf("--from at-sequence=%s: want a decimal sequence number", v)
		}
		return From{Type: engine.AtSequenceNumber, Seq: v}, nil
	}
	return From{}, fmt.Errorf("--from %s: want trim-horizon, latest, at-timestamp=RFC3339 or at-sequence=N", s)
}
