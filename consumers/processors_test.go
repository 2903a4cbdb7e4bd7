package consumers

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func rec(v any) engine.Record { return recAt(v, t0) }

// recAt returns v as a record that arrived at at.
func recAt(v any, at time.Time) engine.Record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return engine.Record{Data: b, ApproximateArrivalTimestamp: at}
}

func raw(s string) engine.Record {
	return engine.Record{Data: []byte(s), ApproximateArrivalTimestamp: t0}
}

func ts(t time.Time) string { return t.Format(time.RFC3339Nano) }

func click(page, session string, at time.Time) engine.Record {
	return recAt(map[string]any{"event": "page_view", "user": "u-" + session, "session": session,
		"page": page, "referrer": "", "ua": "test", "ts": ts(at)}, at)
}

func TestPageStatsTopPages(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewPageStats(clock, 3)
	var recs []engine.Record
	for i := 0; i < 6; i++ {
		recs = append(recs, click("/", fmt.Sprintf("s%d", i%4), t0.Add(-10*time.Second)))
	}
	for i := 0; i < 3; i++ {
		recs = append(recs, click("/cart", "s1", t0.Add(-5*time.Second)))
	}
	recs = append(recs, click("/p/7", "s9", t0))
	recs = append(recs, click("/p/8", "s9", t0)) // ties /p/7: sorted by name, then cut by top 3
	if err := p.Process("A", recs[:5]); err != nil {
		t.Fatal(err)
	}
	if err := p.Process("B", recs[5:]); err != nil {
		t.Fatal(err)
	}
	r := p.Result()
	want := []PageCount{{"/", 6, 6.0 / 11}, {"/cart", 3, 3.0 / 11}, {"/p/7", 1, 1.0 / 11}}
	if len(r.TopPages) != len(want) {
		t.Fatalf("TopPages: got %v, want %v", r.TopPages, want)
	}
	for i := range want {
		if r.TopPages[i] != want[i] {
			t.Errorf("TopPages[%d]: got %+v, want %+v", i, r.TopPages[i], want[i])
		}
	}
	if r.Events != 11 || r.ActiveSessions != 5 || r.Total != 11 {
		t.Errorf("events/sessions/total: got %d/%d/%d, want 11/5/11", r.Events, r.ActiveSessions, r.Total)
	}
	if r.EventsPerSecond != 11 { // the processor is younger than a second
		t.Errorf("EventsPerSecond: got %v, want 11", r.EventsPerSecond)
	}
	if got, want := r.Summary(), "top: / 55%  /cart 27%  /p/7 9%"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}
	clock.Advance(20 * time.Second)
	if r := p.Result(); r.EventsPerSecond != 11.0/20 {
		t.Errorf("EventsPerSecond after 20s: got %v, want %v", r.EventsPerSecond, 11.0/20)
	}
}

func TestPageStatsWindowExpiry(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewPageStats(clock, 5)
	p.Process("A", []engine.Record{click("/old", "s1", t0.Add(-30*time.Second)), click("/new", "s2", t0)})

	clock.Set(t0.Add(29 * time.Second)) // /old is 59 s old
	r := p.Result()
	if r.Events != 2 || r.ActiveSessions != 2 {
		t.Errorf("at +29s: events %d sessions %d, want 2 and 2", r.Events, r.ActiveSessions)
	}
	clock.Set(t0.Add(30 * time.Second)) // /old is 60 s old: out
	r = p.Result()
	if r.Events != 1 || r.ActiveSessions != 1 || len(r.TopPages) != 1 || r.TopPages[0].Page != "/new" {
		t.Errorf("at +30s: got %+v, want only /new", r)
	}
	if r.EventsPerSecond != 1.0/30 {
		t.Errorf("EventsPerSecond: got %v, want %v", r.EventsPerSecond, 1.0/30)
	}
	clock.Set(t0.Add(60 * time.Second))
	r = p.Result()
	if r.Events != 0 || r.ActiveSessions != 0 || len(r.TopPages) != 0 {
		t.Errorf("at +60s: got %+v, want an empty window", r)
	}
	if r.Total != 2 {
		t.Errorf("Total: got %d, want 2", r.Total)
	}
	if got := r.Summary(); got != "top: no page views" {
		t.Errorf("Summary: got %q", got)
	}

	// Records already older than the window are counted but not shown;
	// records from the future count as now.
	now := clock.Now()
	p.Process("A", []engine.Record{click("/ancient", "s3", now.Add(-2*time.Minute)), click("/future", "s4", now.Add(time.Hour))})
	r = p.Result()
	if r.Events != 1 || r.TopPages[0].Page != "/future" || r.Total != 4 {
		t.Errorf("old and future records: got %+v", r)
	}
	clock.Advance(60 * time.Second)
	if r := p.Result(); r.Events != 0 {
		t.Errorf("future record clamped to now should expire 60s later: got %d events", r.Events)
	}
}

func TestEventTime(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewPageStats(clock, 5)
	body := func(at time.Time) map[string]any { return map[string]any{"page": "/", "session": "s", "ts": ts(at)} }
	// ts a little before arrival: the ts counts (here: out of the window).
	p.Process("A", []engine.Record{recAt(body(t0.Add(-61*time.Second)), t0.Add(-30*time.Second))})
	if r := p.Result(); r.Events != 0 || r.Total != 1 {
		t.Errorf("late record by ts: got %d events, want 0", r.Events)
	}
	// ts from another clock, two hours off: the arrival time counts.
	p.Process("A", []engine.Record{recAt(body(t0.Add(-2*time.Hour)), t0.Add(-30*time.Second))})
	if r := p.Result(); r.Events != 1 {
		t.Errorf("ts on another clock: got %d events, want 1", r.Events)
	}
	clock.Advance(30 * time.Second)
	if r := p.Result(); r.Events != 0 {
		t.Errorf("arrival-time record 60 s later: got %d events, want 0", r.Events)
	}
}

func TestPageStatsSkipsBadRecords(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewPageStats(clock, 5)
	p.Process("A", []engine.Record{
		raw("not json"),
		raw(`[1,2,3]`),
		raw(`{"page":""}`),
		raw(`{"page":5}`),
		raw(`{"event":"click","session":"s1"}`),
		raw(`{"device":"sensor-1","temp":20}`), // another generator's record
		raw(`{"page":"/ok"}`),                  // no ts: arrival time, no session
		{Data: []byte(`{"page":"/late","ts":"yesterday"}`)},
	})
	r := p.Result()
	if r.Skipped != 5 || r.Other != 1 || r.Total != 2 {
		t.Errorf("skipped/other/total: got %d/%d/%d, want 5/1/2", r.Skipped, r.Other, r.Total)
	}
	if r.Events != 2 || r.ActiveSessions != 0 {
		t.Errorf("events/sessions: got %d/%d, want 2/0", r.Events, r.ActiveSessions)
	}
}

func iot(device string, temp, hum, bat float64, at time.Time) engine.Record {
	return recAt(map[string]any{"device": device, "temp": temp, "humidity": hum, "battery": bat, "ts": ts(at)}, at)
}

func TestIoTAlerts(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewIoTAlerts(clock, DefaultIoTThresholds(), 4)
	p.Process("A", []engine.Record{
		iot("sensor-0001", 21, 40, 80, t0.Add(-50*time.Second)),   // fine
		iot("sensor-0042", 71.3, 40, 80, t0.Add(-40*time.Second)), // hot
		iot("sensor-0007", -25, 120, 3, t0.Add(-30*time.Second)),  // cold, wet, flat: three alerts
	})
	p.Process("B", []engine.Record{
		iot("sensor-0008", 60, 100, 5, t0.Add(-20*time.Second)), // on the limits: fine
		iot("sensor-0009", -20, -0.5, 4.9, t0),                  // dry, low battery
	})
	r := p.Result()
	if r.AlertCount != 6 || r.Readings != 5 || r.Devices != 5 {
		t.Errorf("alerts/readings/devices: got %d/%d/%d, want 6/5/5", r.AlertCount, r.Readings, r.Devices)
	}
	want := []Alert{ // newest first, the latest 4
		{Device: "sensor-0009", Field: "battery", Value: 4.9, Threshold: 5, Above: false, Time: t0, ShardID: "B"},
		{Device: "sensor-0009", Field: "humidity", Value: -0.5, Threshold: 0, Above: false, Time: t0, ShardID: "B"},
		{Device: "sensor-0007", Field: "battery", Value: 3, Threshold: 5, Above: false, Time: t0.Add(-30 * time.Second), ShardID: "A"},
		{Device: "sensor-0007", Field: "humidity", Value: 120, Threshold: 100, Above: true, Time: t0.Add(-30 * time.Second), ShardID: "A"},
	}
	if len(r.Alerts) != len(want) {
		t.Fatalf("Alerts: got %d, want %d: %+v", len(r.Alerts), len(want), r.Alerts)
	}
	for i := range want {
		if !r.Alerts[i].Time.Equal(want[i].Time) {
			t.Errorf("Alerts[%d].Time: got %v, want %v", i, r.Alerts[i].Time, want[i].Time)
		}
		r.Alerts[i].Time = want[i].Time
		if r.Alerts[i] != want[i] {
			t.Errorf("Alerts[%d]: got %+v, want %+v", i, r.Alerts[i], want[i])
		}
	}
	if got, want := r.Summary(), "⚠ sensor-0009 battery 4.9 (< 5)"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}

	// Devices expire from the window; alerts stay.
	clock.Set(t0.Add(10 * time.Second)) // sensor-0001 is 60 s old
	if r := p.Result(); r.Devices != 4 || r.AlertCount != 6 || len(r.Alerts) != 4 {
		t.Errorf("at +10s: devices %d alerts %d kept %d, want 4, 6, 4", r.Devices, r.AlertCount, len(r.Alerts))
	}
	clock.Set(t0.Add(60 * time.Second))
	if r := p.Result(); r.Devices != 0 {
		t.Errorf("at +60s: devices %d, want 0", r.Devices)
	}
}

func TestIoTAlertsSummaryAndThresholds(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewIoTAlerts(clock, DefaultIoTThresholds(), 0)
	p.Process("A", []engine.Record{iot("sensor-0001", 20, 50, 50, t0)})
	if got, want := p.Summary(), "✓ no alerts · 1 devices"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}
	p.Process("A", []engine.Record{iot("sensor-0042", 71.3, 50, 50, t0)})
	if got, want := p.Summary(), "⚠ sensor-0042 temp 71.3 (> 60)"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}

	th := DefaultIoTThresholds()
	th.TempHigh = 50
	q := NewIoTAlerts(clock, th, 0)
	q.Process("A", []engine.Record{iot("sensor-0003", 55, 50, 50, t0), raw(`{"device":"sensor-0004","temp":-21}`)})
	r := q.Result()
	if r.AlertCount != 2 || r.Alerts[1].String() != "sensor-0003 temp 55 (> 50)" || r.Alerts[0].String() != "sensor-0004 temp -21 (< -20)" {
		t.Errorf("custom threshold: got %+v", r.Alerts)
	}
}

func TestIoTAlertsSkipsBadRecords(t *testing.T) {
	p := NewIoTAlerts(engine.NewManualClock(t0), DefaultIoTThresholds(), 5)
	p.Process("A", []engine.Record{
		raw("{"),
		raw(`"sensor"`),
		raw(`{"temp":99}`),           // no device
		raw(`{"device":"sensor-1"}`), // no measurement
		raw(`{"device":"sensor-1","temp":"hot"}`), // wrong type
		raw(`{"service":"checkout","status":500}`),
		raw(`{"device":"sensor-2","battery":1}`),
	})
	r := p.Result()
	if r.Skipped != 5 || r.Other != 1 || r.Readings != 1 || r.AlertCount != 1 {
		t.Errorf("skipped/other/readings/alerts: got %d/%d/%d/%d, want 5/1/1/1", r.Skipped, r.Other, r.Readings, r.AlertCount)
	}
}

func logLineRec(service string, status int, latency float64, level string, at time.Time) engine.Record {
	return recAt(map[string]any{"service": service, "instance": service + "-1", "level": level, "method": "GET",
		"path": "/x", "status": status, "latency_ms": latency, "msg": "ok", "ts": ts(at)}, at)
}

func TestLogStatsErrorRateAndLatency(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewLogStats(clock)
	var recs []engine.Record
	// checkout: latencies 1..1000 ms in a shuffled order, 42 of them 5xx.
	rng := rand.New(rand.NewSource(1))
	for i, v := range rng.Perm(1000) {
		status := 200
		if i < 42 {
			status = 503
		}
		recs = append(recs, logLineRec("checkout", status, float64(v+1), "INFO", t0.Add(-time.Duration(i%50)*time.Second)))
	}
	// search: 10 requests of 7 ms, one logged at level ERROR with status 200.
	for i := 0; i < 10; i++ {
		level := "INFO"
		if i == 0 {
			level = "ERROR"
		}
		recs = append(recs, logLineRec("search", 200, 7, level, t0))
	}
	var wg sync.WaitGroup // several shards at once
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := i; j < len(recs); j += 4 {
				p.Process(fmt.Sprint("shard-", i), recs[j:j+1])
				_ = p.Result()
			}
		}()
	}
	wg.Wait()

	r := p.Result()
	if len(r.Services) != 2 || r.Requests != 1010 || r.Errors != 43 || r.Total != 1010 {
		t.Fatalf("result: got %+v", r)
	}
	c, s := r.Services[0], r.Services[1]
	if c.Service != "checkout" || c.Requests != 1000 || c.Errors != 42 || c.ErrorRate != 0.042 {
		t.Errorf("checkout: got %+v", c)
	}
	within := func(got, want float64) bool { return math.Abs(got-want) <= 0.03*want }
	if !within(c.P50, 500) || !within(c.P99, 990) {
		t.Errorf("checkout p50/p99: got %.1f/%.1f, want 500/990 within 3%%", c.P50, c.P99)
	}
	if s.Service != "search" || s.Requests != 10 || s.Errors != 1 || s.P50 != 7 || s.P99 != 7 {
		t.Errorf("search: got %+v, want 10 requests, 1 error, p50 = p99 = 7", s)
	}
	if got := r.Summary(); got != "search err 10.0% p99 7.0ms" {
		t.Errorf("Summary: got %q", got)
	}

	clock.Set(t0.Add(12 * time.Second)) // the lines 48 and 49 s old at t0 leave the window
	r = p.Result()
	if c := r.Services[0]; c.Requests != 1000-40 {
		t.Errorf("checkout after 12 s: got %d requests, want %d", c.Requests, 1000-40)
	}
	clock.Set(t0.Add(60 * time.Second))
	r = p.Result()
	if len(r.Services) != 0 || r.Summary() != "no requests" {
		t.Errorf("after 60 s: got %+v, want no services", r)
	}
}

func TestLogStatsSummaryFormat(t *testing.T) {
	clock := engine.NewManualClock(t0)
	p := NewLogStats(clock)
	var recs []engine.Record
	for i := 0; i < 1000; i++ {
		status := 200
		if i%25 == 0 {
			status = 500
		}
		recs = append(recs, logLineRec("checkout", status, 310, "INFO", t0))
	}
	p.Process("A", recs)
	if got, want := p.Summary(), "checkout err 4.0% p99 310ms"; got != want {
		t.Errorf("Summary: got %q, want %q", got, want)
	}
}

func TestLogStatsSkipsBadRecords(t *testing.T) {
	p := NewLogStats(engine.NewManualClock(t0))
	p.Process("A", []engine.Record{
		raw("garbage"),
		raw(`{"status":500}`),
		raw(`{"service":"","status":500}`),
		raw(`{"service":"api","status":"500"}`),
		raw(`{"page":"/"}`),
		raw(`{"service":"api","level":"ERROR"}`), // no latency: counted, no quantile
	})
	r := p.Result()
	if r.Skipped != 4 || r.Other != 1 || r.Total != 1 {
		t.Errorf("skipped/other/total: got %d/%d/%d, want 4/1/1", r.Skipped, r.Other, r.Total)
	}
	if len(r.Services) != 1 || r.Services[0].ErrorRate != 1 || r.Services[0].P99 != 0 {
		t.Errorf("services: got %+v", r.Services)
	}
}

func TestLatencyHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var h latencyHistogram
	vals := make([]float64, 20000)
	for i := range vals {
		vals[i] = rng.ExpFloat64() * 80 // long-tailed, mean 80 ms
		h.add(vals[i])
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		if got := h.quantile(q); math.Abs(got-exact) > 0.026*exact {
			t.Errorf("q%.3f: got %.3f, want %.3f within 2.6%%", q, got, exact)
		}
	}
	if h.quantile(1) != vals[len(vals)-1] {
		t.Errorf("max: got %v, want %v", h.quantile(1), vals[len(vals)-1])
	}
	var empty latencyHistogram
	if empty.quantile(0.99) != 0 {
		t.Errorf("empty quantile: got %v, want 0", empty.quantile(0.99))
	}
	for _, v := range []float64{0, -1, math.NaN(), 1e9} {
		if b := histBin(v); b < 0 || b >= histBins {
			t.Errorf("histBin(%v) = %d out of range", v, b)
		}
	}
}

func TestProcessorsConcurrentUse(t *testing.T) {
	clock := engine.NewManualClock(t0)
	procs := []interface {
		Processor
		Summarizer
	}{NewPageStats(clock, 5), NewIoTAlerts(clock, DefaultIoTThresholds(), 10), NewLogStats(clock)}
	recs := []engine.Record{click("/", "s1", t0), iot("sensor-1", 99, 50, 50, t0), logLineRec("api", 500, 12, "ERROR", t0), raw("x")}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				for _, p := range procs {
					p.Process(fmt.Sprint(i), recs)
					if s := p.Summary(); s == "" || strings.Contains(s, "%!") {
						t.Errorf("bad summary %q", s)
					}
				}
				if j%50 == 0 {
					clock.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	if r := procs[0].(*PageStats).Result(); r.Total != 800 || r.Skipped != 800 || r.Other != 1600 {
		t.Errorf("PageStats totals: got %d/%d/%d, want 800/800/1600", r.Total, r.Skipped, r.Other)
	}
}
