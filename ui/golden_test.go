package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
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
