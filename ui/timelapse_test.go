package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// TestTimeLapseKeys checks T (+1 h) and ctrl+t (+6 h).
func TestTimeLapseKeys(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("T", "ctrl+t")
	if got := h.fake.Calls(); len(got) != 2 || got[0] != "TimeLapse(1h0m0s)" || got[1] != "TimeLapse(6h0m0s)" {
		t.Fatalf("calls %v", got)
	}
}

// TestTimeLapseOneClock checks what the console shows once the engine's
// clock runs 7 hours ahead of its own (a hair less, as read on a tick):
// the header says exactly +7h, an engine event shows at the console's
// time marked [+7h engine], and a record's time in the feed is the
// console's too, while its detail names the engine's arrival.
func TestTimeLapseOneClock(t *testing.T) {
	h := newHarness(t, 160, 48)
	ahead := 7*time.Hour - 80*time.Millisecond
	h.fake.mu.Lock()
	h.fake.snap.At = t0.Add(ahead)
	h.fake.snap.Events = append(h.fake.snap.Events, engine.Event{Seq: 9, At: t0.Add(ahead), Kind: engine.EventRetention, Stream: "demo", Message: "trimmed 40 records past retention"})
	h.fake.mu.Unlock()
	h.fake.push(engine.TapRecord{Stream: "demo", ShardID: shardID(0), Record: engine.Record{SequenceNumber: "49650000000000000000000000000000000000000000000000999999",
		PartitionKey: "late-key", Data: []byte("late"), ApproximateArrivalTimestamp: t0.Add(ahead).Add(time.Second)}})
	h.tick()
	v := h.view()
	head := strings.SplitN(v, "\n", 2)[0]
	if !strings.Contains(head, "engine +7h") {
		t.Errorf("header lacks the exact offset: %s", head)
	}
	// The offset is read on a tick, to the minute: 80 ms off here.
	shown := t0.Add(ahead - 7*time.Hour)
	if !strings.Contains(v, shown.Format("15:04:05")+"  retention [+7h engine] trimmed 40 records") {
		t.Errorf("engine event not on the console's clock, marked:\n%s", v)
	}
	if !strings.Contains(v, shown.Add(time.Second).Format("15:04:05.000")) || !strings.Contains(v, "your clock; engine +7h") {
		t.Errorf("feed not on the console's clock:\n%s", v)
	}
	h.press("tab", "enter")
	if v := h.view(); !strings.Contains(v, "by the engine's clock, +7h ahead of yours") {
		t.Errorf("detail does not say the arrival is the engine's:\n%s", v)
	}
}

func TestLapseFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "+1h", 6 * time.Hour: "+6h", 90 * time.Minute: "+1h30m", 51 * time.Hour: "+2d 3h", 59*time.Minute + 59*time.Second: "+1h", 0: "+0m",
	} {
		if got := lapse(d); got != want {
			t.Errorf("lapse(%v) = %q, want %q", d, got, want)
		}
	}
}
