package ui

import (
	"strings"
	"testing"
)

var testAround = []AroundView{
	{Kind: "trigger", Name: "trigger-audit", Target: "audit", Figures: []string{"4.2 inv/s · 1,234 records · 0 errors · 2 retries · IteratorAge 120ms · 0 on failure"}},
	{Kind: "delivery", Name: "deliver-demo", Target: "file:///tmp/out", Figures: []string{"1.2 MiB in 12 objects · buffer 8 % · last 3s ago · 0 failures"}, LastError: "PostgreSQL: connection refused"},
	{Kind: "agent", Name: "agent app.log", Target: "/var/log/app.log", Figures: []string{"300 sent · 0 resent · 1 file, 0 B behind"}},
}

// With applications around the stream, the wide layout shares its bottom
// row: events left, the around pane right, with each one's figures and
// last error; without them the pane is not there.
func TestAroundPaneWide(t *testing.T) {
	h := newHarnessWith(t, 200, 60, Options{Stream: "demo"}, func(f *fakeBackend) { f.around = testAround })
	v := h.view()
	for _, want := range []string{"Around · triggers, deliveries, agent", "trigger-audit → audit", "IteratorAge 120ms",
		"deliver-demo → file:///tmp/out", "last error: PostgreSQL: connection refused", "agent app.log → /var/log/app.log", "─ Events"} {
		if !strings.Contains(v, want) {
			t.Fatalf("the view lacks %q:\n%s", want, v)
		}
	}
	if plain := newHarness(t, 200, 60).view(); strings.Contains(plain, "Around") {
		t.Fatalf("the around pane shows with nothing around:\n%s", plain)
	}
}

// In the compact layout the pane is one more stop of tab, only while
// there is something around.
func TestAroundPaneCompactTab(t *testing.T) {
	h := newHarnessWith(t, 80, 24, Options{Stream: "demo"}, func(f *fakeBackend) { f.around = testAround })
	want := []paneID{paneFeed, paneProducers, paneConsumers, paneEvents, paneAround, paneShards}
	for i, w := range want {
		h.press("tab")
		if got := h.m.ctx.Focus; got != w {
			t.Fatalf("after %d tabs focus is %v, want %v", i+1, got, w)
		}
		if w == paneAround {
			if v := h.view(); !strings.Contains(v, "━ Around") || !strings.Contains(v, "trigger-audit") {
				t.Fatalf("the around pane is not in the slot:\n%s", v)
			}
		}
	}
	h.press("shift+tab")
	if got := h.m.ctx.Focus; got != paneAround {
		t.Fatalf("shift+tab: focus %v, want %v", got, paneAround)
	}
	// Everything around goes away: the focus leaves the pane, tab skips it.
	h.fake.mu.Lock()
	h.fake.around = nil
	h.fake.mu.Unlock()
	h.tick()
	if got := h.m.ctx.Focus; got != paneShards {
		t.Fatalf("focus %v after the pane went, want %v", got, paneShards)
	}
	h.press("shift+tab")
	if got := h.m.ctx.Focus; got != paneEvents {
		t.Fatalf("shift+tab without the pane: focus %v, want %v", got, paneEvents)
	}
}
