package ui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// TestMidLayout: at 120×40 events and producers stay on screen under the
// feed whatever has the focus; consumers take the feed's place while
// focused, and a click in the bottom row focuses the pane under it.
func TestMidLayout(t *testing.T) {
	h := newHarness(t, 120, 40)
	if !h.m.lay.mid {
		t.Fatal("120×40 is not the mid layout")
	}
	for _, small := range [][2]int{{80, 24}, {99, 40}, {120, 30}} {
		h.send(tea.WindowSizeMsg{Width: small[0], Height: small[1]})
		if h.m.lay.mid {
			t.Errorf("%v took the mid layout", small)
		}
		h.view()
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	for i, want := range []string{"Feed", "Feed", "Feed", "Consumers", "Feed"} { // shards, feed, producers, consumers, events
		v := h.view()
		for _, title := range []string{"Shards", "Events", "Producers", want} {
			if !strings.Contains(v, "─ "+title) && !strings.Contains(v, "━ "+title) {
				t.Errorf("focus %d: no %s pane on screen", i, title)
			}
		}
		h.press("tab")
	}
	// The bottom row: events on the left, producers on the right.
	y := 1 + h.m.lay.topH + h.m.lay.midH + 2
	h.send(tea.MouseMsg{X: 110, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if h.m.ctx.Focus != paneProducers {
		t.Errorf("click at the bottom right focused %v", h.m.ctx.Focus)
	}
	h.send(tea.MouseMsg{X: 5, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if h.m.ctx.Focus != paneEvents {
		t.Errorf("click at the bottom left focused %v", h.m.ctx.Focus)
	}
}
