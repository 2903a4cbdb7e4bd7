package ui

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// feedLines returns the record lines of the feed box (without borders).
func feedLines(h *harness) []string {
	var out []string
	for _, l := range strings.Split(h.m.feed.View(), "\n") {
		if strings.Contains(l, ":") && (strings.HasPrefix(l, "│") || strings.HasPrefix(l, "┃")) {
			out = append(out, l)
		}
	}
	return out
}

func TestFeedPauseCountsNewAndFreezes(t *testing.T) {
	h := newHarness(t, 160, 48)
	before := h.m.feed.View()
	h.press("p")
	if !h.m.feed.Paused() || !h.m.ctx.Paused {
		t.Fatal("p did not pause")
	}
	if v := h.view(); !strings.Contains(v, "⏸ PAUSED") || !strings.Contains(v, "⏸ paused · 0 new") {
		t.Errorf("pause not shown in header and title:\n%s", v)
	}
	frozen := strings.Join(feedLines(h), "\n")
	for i, n := range []int{5, 12} {
		h.fake.push(sampleRecords(n, t0.Add(time.Duration(i+1)*time.Second))...)
		h.tick()
	}
	if got := h.m.feed.newCount; got != 17 {
		t.Errorf("new count %d, want 17", got)
	}
	if !strings.Contains(h.m.feed.View(), "⏸ paused · 17 new") {
		t.Errorf("title lacks the new count:\n%s", h.m.feed.View())
	}
	if got := strings.Join(feedLines(h), "\n"); got != frozen {
		t.Errorf("paused feed moved:\nbefore:\n%s\nafter:\n%s", frozen, got)
	}
	h.press("p")
	if h.m.feed.Paused() {
		t.Fatal("p did not resume")
	}
	lines := feedLines(h)
	last := lines[len(lines)-1]
	if !strings.Contains(last, "12:31:08.375") { // the 12th record of the second batch, at t0+2s
		t.Errorf("resume did not jump to the newest; last line %q", last)
	}
	if h.m.feed.View() == before {
		t.Error("feed unchanged after resume")
	}
}

func TestFeedScrollUpPauses(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab") // feed
	newest, _ := h.m.feed.Selected()
	h.press("up")
	if !h.m.feed.Paused() {
		t.Fatal("scrolling up did not pause")
	}
	got, _ := h.m.feed.Selected()
	if got.SequenceNumber == newest.SequenceNumber {
		t.Fatal("selection did not move up")
	}
	h.press("pgup")
	if h.m.feed.cursor >= 22-1 {
		t.Errorf("pgup did not move: cursor %d", h.m.feed.cursor)
	}
	h.press("down")
	// the selected line carries the marker
	sel, _ := h.m.feed.Selected()
	found := false
	for _, l := range feedLines(h) {
		if strings.Contains(l, "▸") {
			found = strings.Contains(l, shortSeq(sel.SequenceNumber))
		}
	}
	if !found {
		t.Errorf("marker not on the selected record %s:\n%s", sel.SequenceNumber, h.m.feed.View())
	}
	// down at the newest while live does nothing; p resumes
	h.press("p", "down")
	if h.m.feed.Paused() {
		t.Error("down while live paused the feed")
	}
}

func TestFeedFilter(t *testing.T) {
	tests := []struct {
		filter string
		title  string
		keep   func(line string) bool
	}{
		{"sensor", "filter: sensor", func(l string) bool { return strings.Contains(l, "sensor-") }},
		{"SENSOR", "filter: SENSOR", func(l string) bool { return strings.Contains(l, "sensor-") }},
		{`re:^user-\d+$`, `filter: re:^user-\d+$`, func(l string) bool { return strings.Contains(l, "user-18") }},
		{`/bin-\d/`, `filter: /bin-\d/`, func(l string) bool { return strings.Contains(l, "bin-7") }},
		{"!healthz", "filter: !healthz", func(l string) bool { return !strings.Contains(l, "healthz") }},
		{"000000000005", "filter: 000000000005", func(l string) bool { return strings.Contains(l, "…000005") }},
		{"wörld", "filter: wörld", func(l string) bool { return strings.Contains(l, "wörld") }},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			h := newHarness(t, 160, 48)
			h.press("/")
			if !h.m.feed.Editing() {
				t.Fatal("/ did not open the filter")
			}
			h.typeText(tc.filter)
			h.press("enter")
			v := h.m.feed.View()
			if !strings.Contains(v, tc.title) {
				t.Errorf("title lacks %q:\n%s", tc.title, v)
			}
			lines := feedLines(h)
			if len(lines) == 0 {
				t.Fatalf("nothing matches:\n%s", v)
			}
			for _, l := range lines {
				if !tc.keep(l) {
					t.Errorf("line should be filtered out: %q", l)
				}
			}
			// new records are filtered too
			h.fake.push(sampleRecords(10, t0.Add(time.Second))...)
			h.tick()
			for _, l := range feedLines(h) {
				if !tc.keep(l) {
					t.Errorf("new line should be filtered out: %q", l)
				}
			}
		})
	}
}

func TestFeedFilterInvalidKeepsOld(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("/")
	h.typeText("sensor")
	h.press("enter", "/")
	// the input opens with the current filter; replace it
	for range "sensor" {
		h.press("backspace")
	}
	h.typeText("re:(unclosed")
	h.press("enter")
	v := h.m.feed.View()
	if !strings.Contains(v, "filter: sensor") || !strings.Contains(v, "bad regex: missing closing )") {
		t.Errorf("invalid regex not reported or old filter lost:\n%s", v)
	}
	for _, l := range feedLines(h) {
		if !strings.Contains(l, "sensor-") {
			t.Errorf("old filter not applied: %q", l)
		}
	}
	// an empty filter clears it
	h.press("/")
	for range "sensor" {
		h.press("backspace")
	}
	h.press("enter")
	if h.m.feed.filter != nil || strings.Contains(h.m.feed.View(), "filter:") {
		t.Errorf("empty filter did not clear:\n%s", h.m.feed.View())
	}
}

func TestFeedFilterInputTakesEveryKey(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("/")
	h.typeText("qSM+p?")
	if h.quit || len(h.fake.Calls()) != 0 || h.m.showHelp || h.m.feed.Paused() {
		t.Fatalf("keys leaked out of the filter input: quit=%v calls=%v help=%v paused=%v",
			h.quit, h.fake.Calls(), h.m.showHelp, h.m.feed.Paused())
	}
	if got := h.m.feed.input.Value(); got != "qSM+p?" {
		t.Errorf("input holds %q", got)
	}
	if v := h.view(); !strings.Contains(v, "filter: qSM+p?") || !strings.Contains(v, "apply filter") {
		t.Errorf("input or its help not shown:\n%s", v)
	}
	h.press("esc")
	if h.m.feed.Editing() || h.m.feed.filter != nil {
		t.Error("esc did not cancel")
	}
	h.press("/")
	h.send(keyMsg("ctrl+c"))
	if !h.quit {
		t.Error("ctrl+c did not quit from the filter input")
	}
}

func TestFeedFilterWhilePaused(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("p", "/")
	h.typeText("sensor")
	h.press("enter")
	if !h.m.feed.Paused() {
		t.Fatal("filtering resumed the feed")
	}
	for _, l := range feedLines(h) {
		if !strings.Contains(l, "sensor-") {
			t.Errorf("frozen view not refiltered: %q", l)
		}
	}
	h.fake.push(sampleRecords(10, t0.Add(time.Second))...) // 2 sensors among 10
	h.tick()
	if got := h.m.feed.newCount; got != 2 {
		t.Errorf("new count %d, want 2 (only matching records count)", got)
	}
}

func TestRecordDetail(t *testing.T) {
	tests := []struct {
		name string
		ups  int // records up from the newest (sampleRecords cycles json, iot, text, wide, binary; newest is #23, wide)
		want []string
	}{
		{"json", 3, []string{`"event": "page_view"`, `"session": "s-0020"`, "format     JSON", fmt.Sprintf("4965%052d", 1045020)}},
		{"binary", 4, []string{"binary (not UTF-8), hex dump", "00000000  1f 8b 08 00 ff fe 00 41  42 c3"}},
		{"text", 1, []string{"format     text", "GET /healthz 200 1ms", "trace=abc"}},
		{"wide", 0, []string{"日本語のテキスト", "user-ü-名前", "— (MD5 of the partition key)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 80, 24)
			h.press("tab")
			for i := 0; i < tc.ups; i++ {
				h.press("up")
			}
			h.press("enter")
			if h.m.detail == nil {
				t.Fatal("enter did not open the detail")
			}
			v := h.view()
			for _, w := range tc.want {
				if !strings.Contains(v, w) {
					t.Errorf("detail lacks %q:\n%s", w, v)
				}
			}
			for _, w := range []string{"sequence", "partition", "hash key", "explicit", "arrived", "2024-05-01 12:31:", "size"} {
				if !strings.Contains(v, w) {
					t.Errorf("detail lacks %q", w)
				}
			}
			if strings.Contains(v, "\x1b") {
				t.Error("detail leaks an escape sequence from the data")
			}
			h.press("esc")
			if h.m.detail != nil {
				t.Fatal("esc did not close the detail")
			}
		})
	}
}

func TestRecordDetailExplicitHashKey(t *testing.T) {
	h := newHarness(t, 80, 24)
	r := sampleRecords(1, t0.Add(time.Second))[0]
	r.ExplicitHashKey = "170141183460469231731687303715884105728"
	h.fake.push(r)
	h.tick()
	h.press("tab", "enter")
	if v := h.view(); !strings.Contains(v, "explicit   170141183460469231731687303715884105728") {
		t.Errorf("explicit hash key missing:\n%s", v)
	}
}

func TestCopy(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "up", "up", "up", "c") // a JSON record
	if len(h.fake.copied) != 1 || !strings.HasPrefix(h.fake.copied[0], `{"event":"page_view"`) {
		t.Fatalf("copied %q", h.fake.copied)
	}
	want := "copied 82 bytes (OSC 52)"
	if v := h.view(); !strings.Contains(v, want) {
		t.Errorf("no %q on screen:\n%s", want, v)
	}
	// binary data goes out as hex, and says so
	h.press("up", "c")
	if got := h.fake.copied[1]; got != "1f8b0800fffe004142c3" {
		t.Errorf("binary copied as %q", got)
	}
	// from the detail view too
	h.press("enter", "c")
	if len(h.fake.copied) != 3 {
		t.Errorf("c in the detail view did not copy")
	}
	h.press("esc")
	// failure
	h.fake.copyErr = errors.New("standard output is not a terminal")
	h.press("c")
	if v := h.view(); !strings.Contains(v, "copy failed: standard output is not a terminal") {
		t.Errorf("copy failure not shown:\n%s", v)
	}
}

func TestFeedRingIsBounded(t *testing.T) {
	h := newHarness(t, 80, 24)
	for i := 0; i < 5; i++ {
		h.fake.push(sampleRecords(1000, t0.Add(time.Duration(i)*time.Minute))...)
		h.tick()
	}
	if n := h.m.feed.all.Len(); n != DefaultFeedCapacity {
		t.Errorf("ring holds %d, want %d", n, DefaultFeedCapacity)
	}
	h.fake.mu.Lock()
	h.fake.dropped = 12
	h.fake.mu.Unlock()
	h.tick()
	if !strings.Contains(h.m.feed.View(), "12 dropped") {
		t.Errorf("drops not shown:\n%s", h.m.feed.View())
	}
}

// TestFilterStartsEmptyRecallsAndClears checks issue 11's filter: / opens
// an empty input (typing does not append to the old filter), ↑ recalls
// earlier filters, and esc clears an applied one.
func TestFilterStartsEmptyRecallsAndClears(t *testing.T) {
	h := newHarness(t, 120, 40)
	h.press("/")
	h.typeText("sensor-0042")
	h.press("enter", "/")
	if v := h.m.feed.input.Value(); v != "" {
		t.Fatalf("/ reopened with %q, want empty", v)
	}
	h.typeText("re:user-1[0-9]$")
	h.press("enter")
	if got := h.m.feed.filter.raw; got != "re:user-1[0-9]$" {
		t.Fatalf("filter %q, want the new one alone", got)
	}
	h.press("/", "up")
	if v := h.m.feed.input.Value(); v != "re:user-1[0-9]$" {
		t.Fatalf("↑ recalled %q", v)
	}
	h.press("up")
	if v := h.m.feed.input.Value(); v != "sensor-0042" {
		t.Fatalf("↑↑ recalled %q", v)
	}
	h.press("down", "down")
	if v := h.m.feed.input.Value(); v != "" {
		t.Fatalf("↓↓ left %q, want the empty new line", v)
	}
	h.press("esc") // closes the input, keeps the filter
	if !h.m.feed.Filtered() || h.m.feed.Editing() {
		t.Fatalf("esc in the input: filtered %v, editing %v", h.m.feed.Filtered(), h.m.feed.Editing())
	}
	h.press("esc")
	if h.m.feed.Filtered() {
		t.Fatal("esc did not clear the applied filter")
	}
	if v := h.view(); strings.Contains(v, "filter:") || !strings.Contains(v, "filter cleared") {
		t.Errorf("screen after esc:\n%s", v)
	}
}
