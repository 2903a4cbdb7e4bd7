package consumers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// Window is the span the built-in processors summarize: the last 60
// seconds by their clock, in one-second slots. A record belongs to the
// second of its event time and counts while that second is one of the
// window's last 60.
const Window = 60 * time.Second

const windowSecs = int64(Window / time.Second)

// slotOf maps a Unix second onto a ring of windowSecs slots.
func slotOf(sec int64) int {
	return int(((sec % windowSecs) + windowSecs) % windowSecs)
}

// inWindow reports whether second sec is one of the last windowSecs
// seconds ending with nowSec.
func inWindow(sec, nowSec int64) bool {
	return sec > nowSec-windowSecs && sec <= nowSec
}

// eventTime returns a record's event time: its "ts" field (RFC 3339) when
// readable and within Window of the arrival time, else the arrival time,
// else now; never later than now. A ts that far from the arrival time comes
// from another clock (a producer on the wall clock while the engine's clock
// is time-lapsed), and the arrival time is on the processor's clock.
func eventTime(ts *string, r engine.Record, now time.Time) time.Time {
	arrival := r.ApproximateArrivalTimestamp
	t := arrival
	if ts != nil {
		if p, err := time.Parse(time.RFC3339Nano, *ts); err == nil {
			if d := p.Sub(arrival); arrival.IsZero() || (d < Window && d > -Window) {
				t = p
			}
		}
	}
	if t.IsZero() || t.After(now) {
		t = now
	}
	return t
}

// decodeObject decodes a JSON object into v. It fails for invalid JSON,
// for JSON that is not an object, and for fields of the wrong type.
func decodeObject(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(data, v)
}

// windowSpan is the span rates are computed over: the time since start,
// between one second and Window.
func windowSpan(start, now time.Time) time.Duration {
	d := now.Sub(start)
	if d < time.Second {
		d = time.Second
	}
	if d > Window {
		d = Window
	}
	return d
}

// fmtNum writes a number briefly: integers without decimals, others with one.
func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// fmtMillis writes a latency in milliseconds briefly.
func fmtMillis(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1fs", ms/1000)
	case ms >= 10:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}

// latencyHistogram counts latencies in log-spaced bins 5% wide: bin 0 holds
// values below histMin, bin i ≥ 1 holds [histMin·g^(i-1), histMin·g^i).
// Reading a quantile from it is off by at most half a bin (about 2.5%).
type latencyHistogram struct {
	bins     [histBins]uint32
	n        uint64
	min, max float64
}

const (
	histGrowth = 1.05
	histMin    = 0.1 // ms
	histBins   = 334 // up to about 1.2e6 ms
)

var histLogGrowth = math.Log(histGrowth)

func histBin(v float64) int {
	if !(v >= histMin) { // also NaN
		return 0
	}
	i := 1 + int(math.Log(v/histMin)/histLogGrowth)
	if i >= histBins {
		i = histBins - 1
	}
	return i
}

// histValue is the representative (geometric middle) of a bin.
func histValue(i int) float64 {
	if i == 0 {
		return histMin / 2
	}
	return histMin * math.Pow(histGrowth, float64(i-1)+0.5)
}

func (h *latencyHistogram) add(v float64) {
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if h.n == 0 || v > h.max {
		h.max = v
	}
	h.bins[histBin(v)]++
	h.n++
}

func (h *latencyHistogram) merge(o *latencyHistogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if h.n == 0 || o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.bins {
		h.bins[i] += c
	}
	h.n += o.n
}

// quantile returns the nearest-rank q-quantile (0 < q ≤ 1), clamped to the
// observed range (exact for the maximum); 0 when empty.
func (h *latencyHistogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return h.max
	}
	var cum uint64
	for i, c := range h.bins {
		cum += uint64(c)
		if cum >= rank {
			v := histValue(i)
			return math.Min(math.Max(v, h.min), h.max)
		}
	}
	return h.max
}
