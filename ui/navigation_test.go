package ui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// TestQClosesOverlays checks that q closes the help and the record detail
// (as esc does) instead of quitting; q quits from the panes.
func TestQClosesOverlays(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("?", "q")
	if h.quit || h.m.showHelp {
		t.Fatalf("q in the help: quit %v, help open %v", h.quit, h.m.showHelp)
	}
	h.press("tab", "enter")
	if h.m.detail == nil {
		t.Fatal("enter did not open the record")
	}
	h.press("q")
	if h.quit || h.m.detail != nil {
		t.Fatalf("q in the detail: quit %v, detail open %v", h.quit, h.m.detail != nil)
	}
	h.press("q")
	if !h.quit {
		t.Fatal("q in the panes did not quit")
	}
}

// TestHelpScrolls checks that at 80×24 the whole help, glossary included,
// can be read by scrolling: the app keys (w, ?, q) and the last glossary
// line come into view.
func TestHelpScrolls(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("?")
	first := h.view()
	if !strings.Contains(first, "scroll") {
		t.Fatalf("the help does not say it scrolls:\n%s", first)
	}
	var seen strings.Builder
	for i := 0; i < 200; i++ {
		seen.WriteString(h.view())
		h.press("down")
	}
	all := seen.String()
	for _, want := range []string{"next stream", "toggle this help", "quit", "glossary", "SHARD_END", "TRIM_HORIZON", "iterator age", "gave up", "engine +Nh"} {
		if !strings.Contains(all, want) {
			t.Errorf("scrolling the help never showed %q", want)
		}
	}
	h.send(tea.KeyMsg{Type: tea.KeyHome})
	if v := h.view(); v != first {
		t.Errorf("home did not return to the top")
	}
}

// TestFeedResumesAtTheBottom checks G, end and scrolling down past the
// newest record: each returns to the live feed.
func TestFeedResumesAtTheBottom(t *testing.T) {
	for _, keys := range [][]string{{"G"}, {"end"}, {"down", "down", "down"}} {
		h := newHarness(t, 120, 40)
		h.press("tab", "up", "up")
		if !h.m.feed.Paused() {
			t.Fatal("scrolling up did not pause")
		}
		h.press(keys...)
		if h.m.feed.Paused() {
			t.Errorf("%v: still paused", keys)
		}
	}
}

// TestPageKeysInEveryList checks pgdown and pgup in the shards,
// producers, consumers and events panes.
func TestPageKeysInEveryList(t *testing.T) {
	h := newHarness(t, 80, 24)
	setShards(h.fake, 40)
	h.tick()
	h.press("pgdown")
	if s, _ := h.m.shards.Selected(); s.ShardID == shardID(0) {
		t.Error("pgdown did not move the shard selection")
	}
	h.press("tab", "tab", "pgdown") // producers
	if got := h.m.producers.Selected(); got == "clickstream" {
		t.Error("pgdown did not move the producer selection")
	}
	h.press("tab", "pgdown") // consumers
	if app, _ := h.m.consumers.Selected(); app == nil || app.v.Name == "page-stats" {
		t.Error("pgdown did not move the consumer selection")
	}
	for i := 0; i < 30; i++ {
		h.m.events.Add(eventLine{At: t0, Kind: "action", Text: "line"})
	}
	h.press("tab", "pgdown") // events
	if h.m.events.offset == 0 {
		t.Fatal("pgdown did not scroll the events")
	}
	h.press("pgup")
	if h.m.events.offset != 0 {
		t.Errorf("pgup left the events at %d", h.m.events.offset)
	}
}

// TestMouse checks the wheel scrolls the pane under the pointer (not the
// focused one) and a click focuses a pane and selects the line under it.
func TestMouse(t *testing.T) {
	h := newHarness(t, 160, 48)
	l := h.m.lay
	feedY := 1 + l.topH + 3
	h.send(tea.MouseMsg{X: 5, Y: feedY, Button: tea.MouseButtonWheelUp, Action: tea.MouseActionPress})
	if !h.m.feed.Paused() || h.m.ctx.Focus != paneShards {
		t.Fatalf("wheel over the feed: paused %v, focus %s", h.m.feed.Paused(), h.m.ctx.Focus)
	}
	h.send(tea.MouseMsg{X: 5, Y: feedY, Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	h.send(tea.MouseMsg{X: 5, Y: feedY, Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if h.m.feed.Paused() {
		t.Error("wheel down to the bottom did not resume the feed")
	}
	// Click the third shard row: the box's first line holds the titles.
	h.send(tea.MouseMsg{X: 10, Y: 1 + 1 + 3, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if s, _ := h.m.shards.Selected(); s.ShardID != h.m.shards.shards()[h.m.shards.order[2]].ShardID {
		t.Errorf("click selected %s, want the third row", s.ShardID)
	}
	// Click the second producer (two or three lines each).
	per := h.m.producers.linesPer()
	h.send(tea.MouseMsg{X: l.leftW + 5, Y: 1 + 1 + per, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if h.m.ctx.Focus != paneProducers || h.m.producers.Selected() != "iot" {
		t.Errorf("click on the second producer: focus %s, selected %q", h.m.ctx.Focus, h.m.producers.Selected())
	}
	// Click a worker line of page-stats in the consumers pane.
	h.send(tea.MouseMsg{X: l.leftW + 8, Y: 1 + l.topH + 1 + 2, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if app, w := h.m.consumers.Selected(); h.m.ctx.Focus != paneConsumers || app == nil || w == nil || w.ID != "worker-1" {
		t.Errorf("click on a worker: focus %s, %+v %+v", h.m.ctx.Focus, app, w)
	}
	// The wheel over the events pane scrolls it.
	for i := 0; i < 30; i++ {
		h.m.events.Add(eventLine{At: t0, Kind: "action", Text: "line"})
	}
	h.send(tea.MouseMsg{X: 5, Y: 48 - 3, Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if h.m.events.offset != wheelLines {
		t.Errorf("wheel over the events: offset %d, want %d", h.m.events.offset, wheelLines)
	}
}
