package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

func TestTabCyclesFocus(t *testing.T) {
	h := newHarness(t, 80, 24)
	want := []paneID{paneFeed, paneProducers, paneConsumers, paneEvents, paneShards}
	for i, w := range want {
		h.press("tab")
		if got := h.m.ctx.Focus; got != w {
			t.Fatalf("after %d tabs focus is %v, want %v", i+1, got, w)
		}
	}
	h.press("shift+tab")
	if got := h.m.ctx.Focus; got != paneEvents {
		t.Fatalf("shift+tab: focus %v, want %v", got, paneEvents)
	}
}

func TestCompactSlotFollowsFocus(t *testing.T) {
	h := newHarness(t, 80, 24)
	for _, tc := range []struct {
		tabs  int
		title string
	}{{0, "─ Feed"}, {1, "━ Feed"}, {2, "━ Producers"}, {3, "━ Consumers"}, {4, "━ Events"}} {
		h2 := newHarness(t, 80, 24)
		for i := 0; i < tc.tabs; i++ {
			h2.press("tab")
		}
		if v := h2.view(); !strings.Contains(v, tc.title) {
			t.Errorf("after %d tabs the view lacks %q:\n%s", tc.tabs, tc.title, v)
		}
	}
	_ = h
}

func TestShardSelection(t *testing.T) {
	h := newHarness(t, 80, 24)
	sel := func() string { s, _ := h.m.shards.Selected(); return s.ShardID }
	if got := sel(); got != shardID(0) {
		t.Fatalf("initial selection %s, want %s", got, shardID(0))
	}
	steps := []struct {
		key  string
		want string
	}{
		{"down", shardID(1)}, {"j", shardID(4)}, {"down", shardID(5)}, {"down", shardID(2)},
		{"down", shardID(2)}, // clamps at the end
		{"up", shardID(5)}, {"k", shardID(4)}, {"pgup", shardID(0)},
	}
	for _, s := range steps {
		h.press(s.key)
		if got := sel(); got != s.want {
			t.Fatalf("after %s selection %s, want %s", s.key, got, s.want)
		}
	}
	// the marker follows
	h.press("down")
	for _, l := range strings.Split(h.view(), "\n") {
		if strings.Contains(l, "▸") && strings.Contains(l, "…0000") && !strings.Contains(l, "…000001") {
			t.Errorf("marker on the wrong row: %q", l)
		}
	}
}

func TestShardSelectionSurvivesReorder(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("down") // shard 1
	// shard 1 splits: it closes and two children appear
	h.fake.mu.Lock()
	st := &h.fake.snap.Streams[0]
	s1 := st.Shards[1]
	s1.Open, s1.EndingSequenceNumber, s1.Children = false, "1", []string{shardID(6), shardID(7)}
	c6 := engine.ShardSnapshot{Shard: engine.Shard{ShardID: shardID(6), HashKeyRange: rng(2, 3, 8)}, Index: 6, Open: true}
	c7 := engine.ShardSnapshot{Shard: engine.Shard{ShardID: shardID(7), HashKeyRange: rng(3, 4, 8)}, Index: 7, Open: true}
	st.Shards = []engine.ShardSnapshot{st.Shards[0], c6, c7, st.Shards[2], st.Shards[3], s1, st.Shards[4]}
	h.fake.mu.Unlock()
	h.tick()
	if s, _ := h.m.shards.Selected(); s.ShardID != shardID(1) {
		t.Fatalf("selection moved to %s, want it to stay on %s", s.ShardID, shardID(1))
	}
	v := h.view()
	if !strings.Contains(v, "CLOSED → …000006, …000007") {
		t.Errorf("closed shard's lineage missing:\n%s", v)
	}
	// the children's bars halve the parent's: 6 then 7 in key order after 0
	if got := h.m.shards.order; len(got) != 7 || h.m.ctx.Stream.Shards[got[1]].ShardID != shardID(6) {
		t.Errorf("open shards not in key order: %v", got)
	}
}

func TestShardsScroll(t *testing.T) {
	h := newHarness(t, 80, 24)
	setShards(h.fake, 64)
	h.tick()
	for i := 0; i < 40; i++ {
		h.press("down")
	}
	v := h.view()
	if !strings.Contains(v, "of 64") {
		t.Errorf("title does not say the list scrolls:\n%s", v)
	}
	s, _ := h.m.shards.Selected()
	if !strings.Contains(v, "▸ "+tinyShard(s.ShardID, 6)) {
		t.Errorf("selected shard %s not visible:\n%s", s.ShardID, v)
	}
}

func TestProducerSelection(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "tab") // producers
	if got := h.m.producers.Selected(); got != "clickstream" {
		t.Fatalf("selected %q, want clickstream", got)
	}
	h.press("down", "down")
	if got := h.m.producers.Selected(); got != "logs" {
		t.Fatalf("selected %q, want logs", got)
	}
	if v := h.view(); !strings.Contains(v, "▸ logs") {
		t.Errorf("marker not on logs:\n%s", v)
	}
	h.press("+")
	if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != "ProducerScale(logs, 2)" {
		t.Errorf("calls %v, want ProducerScale(logs, 2)", calls)
	}
}

// TestToggleAggregateSelectedProducer: g acts on the producer selected in
// the producers pane, off the UI goroutine, and its sentence reaches the
// events pane; the pane marks aggregating producers.
func TestToggleAggregateSelectedProducer(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "tab", "down", "down") // producers, logs
	mm, cmd := h.m.Update(keyMsg("g"))
	h.m = mm.(Model)
	if cmd == nil {
		t.Fatal("g returned no command")
	}
	if calls := h.fake.Calls(); len(calls) != 0 {
		t.Fatalf("the backend was called from Update: %v", calls)
	}
	if v := h.view(); !strings.Contains(v, "KPL aggregation logs…") {
		t.Errorf("status line does not show the running action:\n%s", v)
	}
	h.run(cmd)
	const want = "ProducerToggleAggregate(logs)"
	if calls := h.fake.Calls(); len(calls) != 1 || calls[0] != want {
		t.Fatalf("calls %v, want [%s]", calls, want)
	}
	if got := h.m.events.Text(1); len(got) != 1 || got[0] != "done: "+want {
		t.Errorf("events pane newest %v, want %q", got, "done: "+want)
	}
	h.press("tab", "tab") // events
	if v := h.view(); !strings.Contains(v, "done: "+want) {
		t.Errorf("outcome not in the events pane:\n%s", v)
	}

	// the fake's iot aggregates, the others do not
	h.press("shift+tab", "shift+tab")
	rows := 0
	for _, l := range strings.Split(h.view(), "\n") {
		if !strings.Contains(l, "  rate ") {
			continue // not a producer's first line
		}
		rows++
		if strings.Contains(l, "KPL") != strings.Contains(l, " iot ") {
			t.Errorf("KPL marker on the wrong producer: %q", l)
		}
	}
	if rows != 4 {
		t.Errorf("found %d producer rows, want 4", rows)
	}
}

func TestConsumerSelection(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "tab", "tab") // consumers
	// ↓ walks page-stats, its two workers, then iot-alerts
	steps := []struct{ app, worker string }{
		{"page-stats", "worker-1"}, {"page-stats", "worker-2"}, {"iot-alerts", ""}, {"iot-alerts", "worker-1"},
		{"log-stats", ""}, {"log-stats", "worker-1"}, {"log-stats", "worker-2"}, {"cli-reader", ""}, {"cli-reader", ""},
	}
	for i, s := range steps {
		h.press("down")
		if h.m.consumers.selApp != s.app || h.m.consumers.selWorker != s.worker {
			t.Fatalf("after %d downs selection %s/%s, want %s/%s", i+1, h.m.consumers.selApp, h.m.consumers.selWorker, s.app, s.worker)
		}
	}
	h.press("up", "up", "up", "up", "up")
	if h.m.consumers.selApp != "iot-alerts" || h.m.consumers.selWorker != "" {
		t.Fatalf("selection %s/%s, want iot-alerts", h.m.consumers.selApp, h.m.consumers.selWorker)
	}
	if v := h.view(); !strings.Contains(v, "▸ iot-alerts") {
		t.Errorf("marker not on iot-alerts:\n%s", v)
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"split", []string{"S"}, "SplitShard(demo, shardId-000000000000)"},
		{"merge right", []string{"M"}, "MergeShards(demo, shardId-000000000000, shardId-000000000001)"},
		{"merge middle", []string{"down", "M"}, "MergeShards(demo, shardId-000000000001, shardId-000000000004)"},
		{"merge left at the end", []string{"down", "down", "down", "M"}, "MergeShards(demo, shardId-000000000004, shardId-000000000005)"},
		{"rate up", []string{"+"}, "ProducerScale(clickstream, 2)"},
		{"rate down", []string{"-"}, "ProducerScale(clickstream, 0.5)"},
		{"burst", []string{"b"}, "ProducerBurst(clickstream)"},
		{"toggle t", []string{"t"}, "ProducerToggle(clickstream)"},
		{"toggle space", []string{"space"}, "ProducerToggle(clickstream)"},
		{"skew", []string{"K"}, "ProducerCycleSkew(clickstream)"},
		{"KPL aggregation", []string{"g"}, "ProducerToggleAggregate(clickstream)"},
		{"retention up", []string{"r"}, "SetRetention(demo, 48)"},
		{"time-lapse", []string{"T"}, "TimeLapse(1h0m0s)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 160, 48)
			h.press(tc.keys...)
			calls := h.fake.Calls()
			if len(calls) != 1 || calls[0] != tc.want {
				t.Fatalf("calls %v, want [%s]", calls, tc.want)
			}
			if got := h.m.events.Text(1); len(got) != 1 || got[0] != "done: "+tc.want {
				t.Errorf("events pane newest %v, want %q", got, "done: "+tc.want)
			}
			if v := h.view(); !strings.Contains(v, "done: "+tc.want) {
				t.Errorf("outcome not on screen:\n%s", v)
			}
			if len(h.m.pending) != 0 {
				t.Errorf("pending actions left: %v", h.m.pending)
			}
		})
	}
}

func TestRetentionSteps(t *testing.T) {
	for _, tc := range []struct {
		cur  int
		up   bool
		want int
		ok   bool
	}{
		{24, true, 48, true}, {48, true, 168, true}, {168, true, 720, true}, {720, true, 8760, true},
		{8760, true, 8760, false}, {8760, false, 720, true}, {48, false, 24, true}, {24, false, 24, false},
		{36, true, 48, true}, {36, false, 24, true},
	} {
		got, ok := nextRetention(tc.cur, tc.up)
		if got != tc.want || ok != tc.ok {
			t.Errorf("nextRetention(%d, %v) = %d, %v; want %d, %v", tc.cur, tc.up, got, ok, tc.want, tc.ok)
		}
	}
}

func TestActionRefusedLocally(t *testing.T) {
	tests := []struct {
		name string
		prep func(f *fakeBackend)
		keys []string
		msg  string
	}{
		{"retention at the bottom", nil, []string{"R"}, "retention is already at 24h"},
		{"split a closed shard", nil, []string{"down", "down", "down", "down", "S"}, "is closed"},
		{"merge a closed shard", nil, []string{"down", "down", "down", "down", "M"}, "is closed"},
		{"no producers", func(f *fakeBackend) { f.producers = nil }, []string{"+"}, "no producer selected"},
		{"no producer to aggregate", func(f *fakeBackend) { f.producers = nil }, []string{"g"}, "no producer selected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 80, 24)
			if tc.prep != nil {
				h.fake.mu.Lock()
				tc.prep(h.fake)
				h.fake.mu.Unlock()
				h.tick()
			}
			h.press(tc.keys...)
			if calls := h.fake.Calls(); len(calls) != 0 {
				t.Errorf("backend called: %v", calls)
			}
			if v := h.view(); !strings.Contains(v, tc.msg) {
				t.Errorf("status line lacks %q:\n%s", tc.msg, v)
			}
		})
	}
}

func TestActionError(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.fake.fail = errBoom
	h.press("S")
	if got := h.m.events.Text(1); len(got) != 1 || got[0] != errBoom.Error() {
		t.Fatalf("events newest %v, want %q", got, errBoom)
	}
	if v := h.view(); !strings.Contains(v, "error     LimitExceededException: Rate exceeded for stream demo") {
		t.Errorf("error not in the events pane:\n%s", v)
	}
}

func TestActionPanicBecomesError(t *testing.T) {
	cmd := runAction(7, "split", func() (string, error) { panic("boom") })
	msg := cmd().(actionDoneMsg)
	if msg.ID != 7 || msg.Err == nil || !strings.Contains(msg.Err.Error(), "panic: boom") {
		t.Fatalf("got %+v, want an error mentioning the panic", msg)
	}
}

func TestSpinnerWhileActionRuns(t *testing.T) {
	h := newHarness(t, 80, 24)
	mm, cmd := h.m.Update(keyMsg("S"))
	h.m = mm.(Model)
	if cmd == nil {
		t.Fatal("S returned no command")
	}
	if len(h.fake.Calls()) != 0 {
		t.Fatal("the backend was called from Update")
	}
	if v := h.view(); !strings.Contains(v, "split 000000000000…") {
		t.Errorf("status line does not show the running action:\n%s", v)
	}
	frame := h.m.spin.View()
	h.tick()
	if h.m.spin.View() == frame {
		t.Errorf("spinner did not advance on tick")
	}
	h.run(cmd)
	if len(h.m.pending) != 0 {
		t.Errorf("still pending after the outcome: %v", h.m.pending)
	}
	if v := h.view(); !strings.Contains(v, "done: SplitShard(demo, shardId-000000000000)") {
		t.Errorf("status line does not show the outcome:\n%s", v)
	}
}

func TestFlashExpires(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("T")
	if !strings.Contains(h.view(), "done: TimeLapse") {
		t.Fatal("no outcome on the status line")
	}
	h.clock.Set(t0.Add(flashFor + time.Second))
	h.tick()
	if strings.Contains(h.view(), "done: TimeLapse") {
		t.Errorf("outcome still on the status line after %v", flashFor)
	}
}

func TestHelpToggle(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("?")
	if !h.m.showHelp {
		t.Fatal("? did not open the help")
	}
	v := h.view()
	for _, want := range []string{"navigate", "load experiments", "feed", "app", "split shard", "time-lapse +1h", "filter feed", "focus: Shards"} {
		if !strings.Contains(v, want) {
			t.Errorf("full help lacks %q:\n%s", want, v)
		}
	}
	// keys other than ?, esc and q do nothing while help is open
	h.press("S")
	if len(h.fake.Calls()) != 0 {
		t.Errorf("S acted behind the help: %v", h.fake.Calls())
	}
	h.press("?")
	if h.m.showHelp {
		t.Fatal("? did not close the help")
	}
	// varies with focus: the feed's group comes first when the feed has focus
	h.press("tab", "?")
	if g := h.m.help.groups(); g[0].title != "feed" {
		t.Errorf("first group with the feed focused is %q, want feed", g[0].title)
	}
	if v := h.view(); !strings.Contains(v, "focus: Feed") || !strings.Contains(v, "select record (pauses)") {
		t.Errorf("help does not follow focus:\n%s", v)
	}
	h.press("esc")
	if h.m.showHelp {
		t.Fatal("esc did not close the help")
	}
}

func TestResize(t *testing.T) {
	h := newHarness(t, 80, 24)
	for _, sz := range [][2]int{{160, 48}, {200, 60}, {100, 30}, {60, 16}, {80, 24}, {141, 31}} {
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		h.view() // checks every line is exactly the width and the count the height
		if wide := sz[0] >= wideWidth && sz[1] >= wideHeight; h.m.lay.wide != wide {
			t.Errorf("%v: wide=%v, want %v", sz, h.m.lay.wide, wide)
		}
	}
}

func TestTooSmall(t *testing.T) {
	h := newHarness(t, 50, 10)
	v := h.view()
	if !strings.Contains(v, "terminal too small (need ≥ 60×16, have 50×10)") {
		t.Errorf("no too-small message:\n%s", v)
	}
	// Narrower than the sentence, it wraps: nothing is cut.
	h.send(tea.WindowSizeMsg{Width: 40, Height: 10})
	if v := strings.Join(strings.Fields(h.view()), " "); !strings.Contains(v, "terminal too small (need ≥ 60×16, have 40×10)") || !strings.Contains(v, "q quits") {
		t.Errorf("too-small message at 40×10 is cut:\n%s", h.view())
	}
	h.send(tea.WindowSizeMsg{Width: 59, Height: 30})
	if v := h.view(); !strings.Contains(v, "have 59×30") {
		t.Errorf("no too-small message at 59×30:\n%s", v)
	}
	h.send(tea.WindowSizeMsg{Width: 60, Height: 16})
	if v := h.view(); strings.Contains(v, "too small") {
		t.Errorf("too-small message at the minimum:\n%s", v)
	}
}

func TestQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		h := newHarness(t, 80, 24)
		_, cmd := h.m.Update(keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
}

func TestEventsDedupeBySeq(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.tick()
	h.tick()
	if n := h.m.events.lines.Len(); n != 3 {
		t.Fatalf("%d event lines after three ticks of the same snapshot, want 3", n)
	}
	h.fake.mu.Lock()
	h.fake.snap.Events = append(h.fake.snap.Events, engine.Event{Seq: 4, At: t0, Kind: engine.EventRetention, Stream: "demo", Message: "trimmed 1,204 records older than 24h"})
	h.fake.mu.Unlock()
	h.tick()
	if got := h.m.events.Text(1); got[0] != "trimmed 1,204 records older than 24h" {
		t.Errorf("newest event %q", got[0])
	}
	if n := h.m.events.lines.Len(); n != 4 {
		t.Errorf("%d event lines, want 4", n)
	}
}

func TestTickSchedulesNext(t *testing.T) {
	fake := newFakeBackend()
	m := New(fake, Options{Stream: "demo", TickInterval: time.Millisecond})
	mm, cmd := m.Update(read(fake))
	if cmd == nil {
		t.Fatal("a tick did not schedule the next one")
	}
	if _, ok := cmd().(dataMsg); !ok {
		t.Fatal("the next tick does not read the backend")
	}
	if _, cmd := mm.Update(dataMsg{Snap: fake.Snapshot()}); cmd != nil {
		t.Error("a hand-made data message started a second tick chain")
	}
	// zero means no tick with New
	m0 := New(fake, Options{Stream: "demo"})
	if _, cmd := m0.Update(read(fake)); cmd != nil {
		t.Error("TickInterval 0 still ticks")
	}
}

func TestWaitingForStream(t *testing.T) {
	fake := newFakeBackend()
	m := New(fake, Options{Stream: "nope", Clock: func() time.Time { return t0 }})
	mm, _ := m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	if v := mm.View(); !strings.Contains(v, `waiting for stream "nope"`) {
		t.Errorf("no waiting message:\n%s", v)
	}
	// once the snapshot shows "nope" is missing, the first stream is watched
	mm, _ = mm.Update(read(fake))
	m = mm.(Model)
	if m.ctx.StreamName != "demo" || m.ctx.Stream == nil {
		t.Fatalf("watching %q, want the fallback demo", m.ctx.StreamName)
	}
	if got := m.events.Text(1); len(got) != 1 || got[0] != `stream "nope" does not exist: watching demo (w switches streams)` {
		t.Errorf("events newest %q", got)
	}
}

func TestTimeLapseShowsInHeader(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.fake.mu.Lock()
	h.fake.snap.At = t0.Add(2 * time.Hour)
	h.fake.mu.Unlock()
	h.tick()
	if v := h.view(); !strings.Contains(strings.Split(v, "\n")[0], "+2h") {
		t.Errorf("header does not show the engine clock ahead:\n%s", strings.Split(v, "\n")[0])
	}
}

func TestHeaderShowsWritesRefused(t *testing.T) {
	for _, w := range []int{160, 80} {
		h := newHarness(t, w, 24)
		if hd := strings.Split(h.view(), "\n")[0]; strings.Contains(hd, "refused") {
			t.Fatalf("header says writes are refused before they are:\n%s", hd)
		}
		h.fake.mu.Lock()
		h.fake.snap.WriteBlocked = "storage: checkpoint: write store.db: no space left on device"
		h.fake.mu.Unlock()
		h.tick()
		if hd := strings.Split(h.view(), "\n")[0]; !strings.Contains(hd, "disk full — writes refused") {
			t.Errorf("%d columns: header does not say writes are refused:\n%s", w, hd)
		}
	}
}

func TestRunNilBackend(t *testing.T) {
	if err := Run(nil, Options{}); err == nil {
		t.Error("Run(nil) returned no error")
	}
}

// setShards replaces the fake's stream with n even open shards.
func setShards(f *fakeBackend, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &f.snap.Streams[0]
	st.Shards = st.Shards[:0]
	for i := 0; i < n; i++ {
		st.Shards = append(st.Shards, engine.ShardSnapshot{
			Shard:   engine.Shard{ShardID: shardID(i), HashKeyRange: rng(int64(i), int64(i+1), int64(n))},
			Index:   i,
			Open:    true,
			Records: int64(1000 * (i + 1)),
			Oldest:  t0.Add(-time.Duration(i) * time.Minute),
			Rate:    engine.Rate{RecordsIn: int64(i * 15), BytesIn: int64(i * 15000), WriteThrottled: int64(i % 3)},
			History: history(int64(i*15), i),
		})
	}
	st.OpenShards, st.ClosedShards = n, 0
	st.Utilisation = engine.Utilisation{Records: 1750 / float64(n*1000), Max: 1750 / float64(n*1000), By: "records"}
	setCost(st, 1750, 1_052_000, 3_900_000, 2)
}

var _ = fmt.Sprintf

func TestCoalescedRunesAreSeparateKeys(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("S+ ")})
	want := []string{"SplitShard(demo, shardId-000000000000)", "ProducerScale(clickstream, 2)", "ProducerToggle(clickstream)"}
	got := h.fake.Calls()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls %v, want %v", got, want)
	}
	// the rest of a burst after / goes to the filter input
	h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/sensor")})
	if !h.m.feed.Editing() || h.m.feed.input.Value() != "sensor" {
		t.Errorf("editing=%v input %q, want the filter input holding \"sensor\"", h.m.feed.Editing(), h.m.feed.input.Value())
	}
}
