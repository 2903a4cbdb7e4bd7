package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/shardscope/shardscope/engine"
)

func TestGoldenCompact(t *testing.T) {
	h := newHarness(t, 80, 24)
	golden(t, "compact_80x24", h.view())
}

func TestGoldenWide(t *testing.T) {
	h := newHarness(t, 160, 48)
	golden(t, "wide_160x48", h.view())
}

func TestGoldenFeedPausedFiltered(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "/")
	h.typeText("!healthz")
	h.press("enter", "up", "up")
	h.fake.push(sampleRecords(10, t0.Add(time.Second))...)
	h.tick()
	golden(t, "feed_paused_filtered_80x24", h.view())
}

func TestGoldenDetail(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "up", "up", "up", "enter")
	golden(t, "detail_80x24", h.view())
}

func TestGoldenHelp(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("?")
	golden(t, "help_160x48", h.view())
}

func TestGoldenHelpCompact(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "tab", "?")
	golden(t, "help_producers_80x24", h.view())
}

func TestGoldenProducersCompact(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "tab", "down", "down")
	golden(t, "producers_80x24", h.view())
}

func TestGoldenManyShards(t *testing.T) {
	h := newHarness(t, 200, 60)
	setShards(h.fake, 64)
	h.tick()
	h.press("down", "down", "down")
	golden(t, "shards64_200x60", h.view())
}

// TestGoldenWideOnDemand is the wide view of an ON_DEMAND stream, one of
// two, with the consumers focused on a worker, scaling and fan-out events,
// and the cost meter showing provisioned for contrast.
func TestGoldenWideOnDemand(t *testing.T) {
	h := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.Mode = engine.ModeOnDemand
		s.Scaling = &engine.ScalingStatus{HotShards: 1, ScaleUpWindow: time.Minute, ScaleDownWindow: time.Hour}
		s.Shards[0].HotSince = t0.Add(-40 * time.Second)
		setCost(s, 1750, 1_052_000, 3_900_000, 2)
		f.snap.Events = append(f.snap.Events,
			engine.Event{Seq: 4, At: t0.Add(-20 * time.Second), Kind: engine.EventMode, Stream: "demo", Message: "demo switched to ON_DEMAND: shards now follow the load"},
			engine.Event{Seq: 5, At: t0.Add(-12 * time.Second), Kind: engine.EventFanOut, Stream: "demo", Message: "registered enhanced fan-out consumer cli-reader on demo: a dedicated 2 MiB/s per shard"},
			engine.Event{Seq: 6, At: t0.Add(-5 * time.Second), Kind: engine.EventMode, Stream: "demo", Message: "000000000000 hot for 40 s (98 % of its write limit): scaling up when it stays hot for 1m"},
		)
		addStream(f, "orders", 2)
	})
	h.press("tab", "tab", "tab", "down", "down")
	golden(t, "wide_ondemand_160x48", h.view())
}

func TestGoldenConsumersCompact(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "tab", "tab", "down")
	golden(t, "consumers_80x24", h.view())
}

func TestGoldenEmpty(t *testing.T) {
	h := newHarnessWith(t, 80, 24, Options{Stream: "demo", Endpoint: "http://127.0.0.1:4567"}, func(f *fakeBackend) {
		f.snap.Streams, f.snap.Events, f.feed, f.consumers = nil, nil, nil, nil
	})
	golden(t, "empty_80x24", h.view())
}

func TestGoldenTooSmall(t *testing.T) {
	h := newHarness(t, 59, 15)
	golden(t, "too_small_59x15", h.view())
}

// TestColourFrameShape renders with colours on: every line must still be
// exactly the terminal's width once the escape sequences are set aside,
// in light and dark.
func TestColourFrameShape(t *testing.T) {
	defer lipgloss.SetColorProfile(termenv.Ascii)
	defer lipgloss.SetHasDarkBackground(true)
	for _, dark := range []bool{true, false} {
		lipgloss.SetColorProfile(termenv.TrueColor)
		lipgloss.SetHasDarkBackground(dark)
		for _, sz := range [][2]int{{80, 24}, {160, 48}} {
			h := newHarness(t, sz[0], sz[1])
			h.press("down", "p")
			v := h.view()
			if !strings.Contains(v, "\x1b[") {
				t.Fatalf("no colour in the frame at %v", sz)
			}
		}
	}
}

// TestGoldenMid is the compact layout at 120×40, where the rows beyond
// the feed go to events and producers.
func TestGoldenMid(t *testing.T) {
	h := newHarness(t, 120, 40)
	golden(t, "mid_120x40", h.view())
}
