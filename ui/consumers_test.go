package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

func TestCapacityAndConsumerKeys(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		want string
	}{
		{"toggle mode", []string{"m"}, "ToggleCapacityMode(demo)"},
		{"add polling", []string{"a"}, "AddConsumer(demo, false)"},
		{"add fan-out", []string{"f"}, "AddConsumer(demo, true)"},
		// the application selected in the focused consumers pane when it
		// is of the kind, built-in or registered from outside
		{"remove selected fan-out", []string{"tab", "tab", "tab", "down", "down", "down", "F"}, "RemoveConsumer(demo, iot-alerts)"},
		{"remove selected registered", []string{"tab", "tab", "tab", "down", "down", "down", "down", "down", "down", "down", "down", "F"}, "RemoveConsumer(demo, cli-reader)"},
		{"remove selected polling", []string{"tab", "tab", "tab", "down", "down", "down", "down", "down", "A"}, "RemoveConsumer(demo, log-stats)"},
		{"stop worker", []string{"tab", "tab", "tab", "down", "down", "x"}, "StopWorker(page-stats, worker-2)"},
		{"stop worker unfocused", []string{"tab", "tab", "tab", "down", "tab", "x"}, "StopWorker(page-stats, worker-1)"},
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

func TestModeKeyRunsOffTheUIGoroutine(t *testing.T) {
	h := newHarness(t, 80, 24)
	mm, cmd := h.m.Update(keyMsg("m"))
	h.m = mm.(Model)
	if cmd == nil || len(h.fake.Calls()) != 0 {
		t.Fatalf("m: cmd %v, calls %v; want a command and no call yet", cmd != nil, h.fake.Calls())
	}
	if v := h.view(); !strings.Contains(v, "capacity mode → ON_DEMAND…") {
		t.Errorf("status line does not show the running action:\n%s", v)
	}
	h.run(cmd)
	if got := h.fake.Calls(); len(got) != 1 || got[0] != "ToggleCapacityMode(demo)" {
		t.Errorf("calls %v", got)
	}
}

func TestConsumerKeysRefusedLocally(t *testing.T) {
	tests := []struct {
		name string
		prep func(f *fakeBackend)
		keys []string
		msg  string
	}{
		{"stop with an app selected", nil, []string{"x"}, "pick a worker of page-stats with ↓ first"},
		{"stop a stopped worker", nil, []string{"tab", "tab", "tab", "down", "down", "down", "down", "down", "down", "down", "x"}, "worker-2 of log-stats is already stopped"},
		{"only registered fan-out", func(f *fakeBackend) {
			f.consumers = f.consumers[:1]
		}, []string{"F"}, "no fan-out consumer added with f to remove"},
		// A never takes a built-in application unless it is selected there.
		{"only built-in polling", nil, []string{"A"}, "no polling consumer added with a to remove"},
		{"built-in selected, pane not focused", nil, []string{"tab", "tab", "tab", "down", "tab", "A"}, "no polling consumer added with a to remove"},
		{"no fan-out to remove", func(f *fakeBackend) {
			f.consumers = f.consumers[:1]
			f.snap.Streams[0].Consumers = nil
		}, []string{"F"}, "no fan-out consumer on demo to remove"},
		{"no consumers to stop", func(f *fakeBackend) {
			f.consumers = nil
			f.snap.Streams[0].Consumers = nil
		}, []string{"x"}, "no consumer application"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarnessWith(t, 80, 24, Options{Stream: "demo"}, tc.prep)
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

func TestConsumersPaneShowsGroups(t *testing.T) {
	h := newHarness(t, 80, 24)
	h.press("tab", "tab", "tab") // consumers fill the slot
	v := h.view()
	for _, want := range []string{
		"Consumers  2 polling · 2 fan-out",
		"▸ page-stats", "polling", "shared 3.9/8.4 MB/s", // shared throughput: stream reads of 4 shards × 2 MiB/s
		"worker-1  …000 …001", "worker-2  …004 …005", // leases held
		"…000  worker-1 …045021      120 ms      0     3", // lease table: owner, checkpoint, lag, records behind, shard read throttling
		"…002  free     SHARD_END      done",
		"TRIM_HORIZON",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("consumers view lacks %q:\n%s", want, v)
		}
	}
	// further down: the fan-out app's dedicated pipe, a stopped worker,
	// read throttling, and a consumer registered from outside
	for i := 0; i < 10; i++ {
		h.press("down")
	}
	v = h.view()
	for _, want := range []string{"cli-reader", "registered from outside", "dedicated 0.3 MB/s · 1/4 subs"} {
		if !strings.Contains(v, want) {
			t.Errorf("consumers view lacks %q:\n%s", want, v)
		}
	}
	h.press("up", "up", "up")
	v = h.view()
	for _, want := range []string{"▸ log-stats", "thr 3/s", "12 thr in all", "worker-2  stopped"} {
		if !strings.Contains(v, want) {
			t.Errorf("consumers view lacks %q:\n%s", want, v)
		}
	}
}

func TestStoppedWorkersLeasesMove(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "tab", "tab", "down", "down") // page-stats worker-2
	h.press("x")
	// the backend reports the move on the next tick
	h.fake.mu.Lock()
	ps := &h.fake.consumers[0]
	ps.Workers = []WorkerView{{ID: "worker-1", Leases: []string{shardID(0), shardID(1), shardID(4), shardID(5)}}, {ID: "worker-2", Stopped: true}}
	for i := range ps.PerShard {
		if ps.PerShard[i].Owner == "worker-2" {
			ps.PerShard[i].Owner = "worker-1"
		}
	}
	h.fake.mu.Unlock()
	h.tick()
	if h.m.consumers.selApp != "page-stats" || h.m.consumers.selWorker != "worker-2" {
		t.Errorf("selection moved to %s/%s", h.m.consumers.selApp, h.m.consumers.selWorker)
	}
	v := h.view()
	for _, want := range []string{"worker-1  …000 …001 …004 …005", "▸ worker-2  stopped", "…004  worker-1"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// a worker that vanishes leaves the selection on its application
	h.fake.mu.Lock()
	h.fake.consumers[0].Workers = h.fake.consumers[0].Workers[:1]
	h.fake.mu.Unlock()
	h.tick()
	if h.m.consumers.selApp != "page-stats" || h.m.consumers.selWorker != "" {
		t.Errorf("selection %s/%s, want page-stats", h.m.consumers.selApp, h.m.consumers.selWorker)
	}
}

func TestLeaseTableBounded(t *testing.T) {
	h := newHarness(t, 200, 60)
	setShards(h.fake, 64)
	h.fake.mu.Lock()
	ps := &h.fake.consumers[0]
	ps.PerShard = nil
	for i := 0; i < 64; i++ {
		ps.PerShard = append(ps.PerShard, ShardLagView{ShardID: shardID(i), Owner: "worker-1", Lag: time.Duration(i*10) * time.Millisecond})
	}
	h.fake.mu.Unlock()
	h.tick()
	h.view()
	lines, _, _ := h.m.consumers.render(h.m.consumers.w - 4)
	v := strings.Join(lines, "\n")
	if !strings.Contains(v, "… 56 more · slowest …063 630 ms") || strings.Contains(v, "…008  worker-1") {
		t.Errorf("lease table not bounded to %d rows:\n%s", maxLeaseRows, v)
	}
}

func TestHeaderCostMeter(t *testing.T) {
	h := newHarness(t, 160, 48)
	hd := header(h.view())
	for _, want := range []string{"PROVISIONED", "$0.36/h   $263/mo", "· on-demand would be  $2.01/h", "capacity  44% rec"} {
		if !strings.Contains(hd, want) {
			t.Errorf("wide header lacks %q:\n%s", want, hd)
		}
	}
	h80 := newHarness(t, 80, 24)
	hd = header(h80.view())
	for _, want := range []string{"PROV", "$0.36/h", "(OD $2.01)", "cap  44% rec"} {
		if !strings.Contains(hd, want) {
			t.Errorf("80-column header lacks %q:\n%s", want, hd)
		}
	}

	// ON_DEMAND: the provisioned price for contrast and the scaler
	onDemand := func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.Mode = engine.ModeOnDemand
		s.Scaling = &engine.ScalingStatus{HotShards: 1, CooldownUntil: t0.Add(4 * time.Minute)}
		setCost(s, 1750, 1_052_000, 3_900_000, 2)
	}
	ho := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, onDemand)
	hd = header(ho.view())
	for _, want := range []string{"ON_DEMAND", "$2.01/h", "· provisioned would be  $0.36/h", "scaler: 1 hot · cooldown 4m"} {
		if !strings.Contains(hd, want) {
			t.Errorf("on-demand header lacks %q:\n%s", want, hd)
		}
	}
	if strings.Contains(hd, "capacity ") {
		t.Errorf("on-demand header shows provisioned capacity:\n%s", hd)
	}
}

func TestCostLessons(t *testing.T) {
	h := newHarness(t, 160, 48)
	v := h.view()
	for _, want := range []string{"Cost · provisioned now · m switches", "provisioned  $0.36/h    $263/mo  ✓ cheaper",
		"on-demand is cheaper below 3.4% of 4 shards'", "load now 44% rec"} {
		if !strings.Contains(v, want) {
			t.Errorf("cost box lacks %q:\n%s", want, v)
		}
	}
	h.press("?")
	v = h.view()
	for _, want := range []string{"capacity modes: PROVISIONED pays for its shards", "cost of demo now: provisioned $262.73/month, on-demand $1469.06/month: provisioned is cheaper for this load",
		"provisioned wins above 3.4 %", "4 shard-hours × $0.015 = $0.060", "basis: last 60 s:", "consumers: polling applications share"} {
		if !strings.Contains(strings.Join(strings.Fields(v), " "), want) {
			t.Errorf("help lacks %q:\n%s", want, v)
		}
	}
	// idle: no traffic to size records by
	hi := newHarnessWith(t, 160, 48, Options{Stream: "demo"}, func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.Utilisation = engine.Utilisation{}
		setCost(s, 0, 0, 0, 0)
	})
	if v := hi.view(); !strings.Contains(v, "idle: on-demand pays its stream-hour") {
		t.Errorf("idle lesson missing:\n%s", v)
	}
}

func TestConsumerHelp(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "tab", "tab", "?")
	if g := h.m.help.groups(); g[0].title != "consumers" {
		t.Errorf("first help group with consumers focused is %q", g[0].title)
	}
	v := h.view()
	for _, want := range []string{"consumers", "a add polling", "A remove polling", "f add fan-out", "F remove fan-out",
		"x stop worker", "capacity mode prov ↔ on-demand", "w        next stream", "select app or worker"} {
		if !strings.Contains(v, want) {
			t.Errorf("help lacks %q:\n%s", want, v)
		}
	}
}

func TestConsumersScrollKeepsSelectionTop(t *testing.T) {
	h := newHarness(t, 140, 30) // wide, with a short consumers box
	h.press("tab", "tab", "tab")
	vis := h.m.consumers.h - 2
	for i := 0; i < 12; i++ {
		h.press("down")
		lines, top, bottom := h.m.consumers.render(h.m.consumers.w - 4)
		off := h.m.consumers.offset
		if top < off || top >= off+vis {
			t.Fatalf("after %d downs the selected line %d is outside [%d, %d)", i+1, top, off, off+vis)
		}
		if bottom-top <= vis && bottom > off+vis {
			t.Errorf("after %d downs the selection [%d, %d) fits but is cut at %d", i+1, top, bottom, off+vis)
		}
		if off > 0 && off+vis > len(lines) {
			t.Errorf("scrolled past the end: offset %d of %d lines", off, len(lines))
		}
	}
}

func TestHeaderStreamSettings(t *testing.T) {
	set := func(f *fakeBackend) {
		s := &f.snap.Streams[0]
		s.Mode = engine.ModeOnDemand
		s.Scaling = &engine.ScalingStatus{}
		s.EnhancedMetrics = slices.Clone(engine.ShardLevelMetrics)
		s.MaxRecordSizeKiB = 4096
		s.WarmThroughput = &engine.WarmThroughput{TargetMiBps: 8, CurrentMiBps: 8}
	}
	hd := header(newHarnessWith(t, 300, 48, Options{Stream: "demo"}, set).view())
	for _, want := range []string{"monitoring ALL", "records ≤4 MiB", "warm 8 MiB/s"} {
		if !strings.Contains(hd, want) {
			t.Errorf("wide header lacks %q:\n%s", want, hd)
		}
	}
	hd = header(newHarnessWith(t, 120, 24, Options{Stream: "demo"}, set).view())
	if !strings.Contains(hd, "  EM  ") || !strings.Contains(hd, "warm 8") {
		t.Errorf("80-column header lacks the short marks:\n%s", hd)
	}
	// Defaults show nothing.
	hd = header(newHarness(t, 200, 48).view())
	for _, not := range []string{"monitoring", "records ≤", "warm"} {
		if strings.Contains(hd, not) {
			t.Errorf("default stream's header shows %q:\n%s", not, hd)
		}
	}
}

// TestRemoveTakesTheNewestAdded checks experiment 4: after a five times, A
// five times removes the five added applications, newest first, never a
// built-in one, and the selection stays where it was.
func TestRemoveTakesTheNewestAdded(t *testing.T) {
	h := newHarness(t, 160, 48)
	for i := 1; i <= 5; i++ {
		name := "poll-" + string(rune('0'+i))
		h.fake.mu.Lock()
		h.fake.consumers = append(h.fake.consumers, ConsumerView{Name: name, Stream: "demo", Kind: KindPolling, Added: true,
			Workers: []WorkerView{{ID: "w1"}, {ID: "w2"}}})
		h.fake.mu.Unlock()
	}
	h.tick()
	h.press("tab", "tab", "tab", "down", "down", "down", "tab") // iot-alerts selected, focus moves on
	for i := 5; i >= 1; i-- {
		name := "poll-" + string(rune('0'+i))
		h.press("A")
		calls := h.fake.Calls()
		if want := "RemoveConsumer(demo, " + name + ")"; calls[len(calls)-1] != want {
			t.Fatalf("A #%d: calls %v, want %s last", 6-i, calls, want)
		}
		h.fake.mu.Lock()
		h.fake.consumers = h.fake.consumers[:len(h.fake.consumers)-1]
		h.fake.mu.Unlock()
		h.tick()
		if app, _ := h.m.consumers.Selected(); app == nil || app.v.Name != "iot-alerts" {
			t.Fatalf("after removing %s the selection moved to %+v", name, app)
		}
	}
	h.press("A")
	if calls := h.fake.Calls(); len(calls) != 5 {
		t.Fatalf("a sixth A called the backend: %v", calls)
	}
}

// TestSelectionKeepsItsPlace checks that removing the selected application
// selects the one that took its place, not the first.
func TestSelectionKeepsItsPlace(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.press("tab", "tab", "tab", "down", "down", "down") // iot-alerts
	h.fake.mu.Lock()
	h.fake.consumers = append(h.fake.consumers[:1:1], h.fake.consumers[2:]...)
	regs := h.fake.snap.Streams[0].Consumers
	h.fake.snap.Streams[0].Consumers = nil
	for _, c := range regs {
		if c.Name != "iot-alerts" {
			h.fake.snap.Streams[0].Consumers = append(h.fake.snap.Streams[0].Consumers, c)
		}
	}
	h.fake.mu.Unlock()
	h.tick()
	if app, _ := h.m.consumers.Selected(); app == nil || app.v.Name != "log-stats" {
		t.Fatalf("selection after iot-alerts went: %+v, want log-stats", app)
	}
}

// TestQuickRemovesTakeDifferentApps checks two A presses before the next
// tick: the second removes the next application, not the same one again.
func TestQuickRemovesTakeDifferentApps(t *testing.T) {
	h := newHarness(t, 160, 48)
	h.fake.mu.Lock()
	h.fake.consumers = append(h.fake.consumers,
		ConsumerView{Name: "poll-1", Stream: "demo", Kind: KindPolling, Added: true},
		ConsumerView{Name: "poll-2", Stream: "demo", Kind: KindPolling, Added: true})
	h.fake.mu.Unlock()
	h.tick()
	h.press("A", "A")
	if got := h.fake.Calls(); len(got) != 2 || got[0] != "RemoveConsumer(demo, poll-2)" || got[1] != "RemoveConsumer(demo, poll-1)" {
		t.Fatalf("calls %v", got)
	}
}
