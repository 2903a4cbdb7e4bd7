package producers

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

func generators() []Generator {
	return []Generator{NewClickstream(ClickstreamConfig{}), NewIoT(IoTConfig{}), NewLogs(LogsConfig{})}
}

// gen runs g for n records at 1 ms apart with the given picker.
func gen(g Generator, seed uint64, n int, keys KeyPicker) (pks []string, recs [][]byte) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		k, d := g.Next(r, t0.Add(time.Duration(i)*time.Millisecond), keys)
		pks = append(pks, k)
		recs = append(recs, d)
	}
	return pks, recs
}

func TestGeneratorsDeterministic(t *testing.T) {
	for i := range generators() {
		for _, skew := range []Skew{Uniform, Zipf, HotKey} {
			ga, gb, gc := generators()[i], generators()[i], generators()[i]
			keys := NewKeyPicker(skew, 0.3)
			ka, ra := gen(ga, 42, 3000, keys)
			kb, rb := gen(gb, 42, 3000, keys)
			_, rc := gen(gc, 43, 3000, keys)
			same := true
			for j := range ra {
				if ka[j] != kb[j] || !bytes.Equal(ra[j], rb[j]) {
					t.Fatalf("%s/%v: record %d differs with the same seed:\n%s\n%s", ga.Kind(), skew, j, ra[j], rb[j])
				}
				same = same && bytes.Equal(ra[j], rc[j])
			}
			if same {
				t.Errorf("%s/%v: a different seed gave the same records", ga.Kind(), skew)
			}
		}
	}
}

// decode parses a record and checks it has exactly the typed fields
// required (others are allowed).
func decode(t *testing.T, data []byte, strs, nums []string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("record is not JSON: %v: %s", err, data)
	}
	for _, f := range strs {
		if _, ok := m[f].(string); !ok {
			t.Fatalf("field %q missing or not a string: %s", f, data)
		}
	}
	for _, f := range nums {
		if _, ok := m[f].(float64); !ok {
			t.Fatalf("field %q missing or not a number: %s", f, data)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, m["ts"].(string)); err != nil {
		t.Fatalf("ts: %v", err)
	}
	return m
}

func TestClickstream(t *testing.T) {
	g := NewClickstream(ClickstreamConfig{Users: 50})
	pks, recs := gen(g, 1, 60000, NewKeyPicker(Uniform, 0))
	events := map[string]int{}
	pages := map[string]int{}
	views := 0
	sessions := map[string]map[string]bool{} // user → sessions
	for i, d := range recs {
		m := decode(t, d, []string{"event", "user", "session", "page", "referrer", "ua", "ts"}, nil)
		ev, user, page := m["event"].(string), m["user"].(string), m["page"].(string)
		if user != pks[i] || !strings.HasPrefix(user, "user-") {
			t.Fatalf("partition key %q, user %q", pks[i], user)
		}
		if !strings.HasPrefix(page, "/") {
			t.Fatalf("page %q", page)
		}
		events[ev]++
		if ev == EventPageView {
			views++
			pages[page]++
		}
		if ev == EventPurchase && page != "/checkout" {
			t.Fatalf("purchase on %q", page)
		}
		if sessions[user] == nil {
			sessions[user] = map[string]bool{}
		}
		sessions[user][m["session"].(string)] = true
	}
	t.Logf("events %v, %d pages", events, len(pages))
	if len(events) != 4 {
		t.Fatalf("event kinds %v", events)
	}
	if !(events[EventPageView] > events[EventClick] && events[EventClick] > events[EventAddToCart] &&
		events[EventAddToCart] > events[EventPurchase] && events[EventPurchase] > 0) {
		t.Errorf("funnel not narrowing: %v", events)
	}
	if len(sitePages) != 200 || len(pages) < 150 {
		t.Errorf("%d site pages, %d seen", len(sitePages), len(pages))
	}
	top := 0
	for _, n := range pages {
		top = max(top, n)
	}
	if share := float64(top) / float64(views); share < 10.0/200 || pages["/"] != top {
		t.Errorf("top page share %.3f (uniform 0.005), home page %d of top %d", share, pages["/"], top)
	}
	// Sessions persist across events and end: 50 users with ~1200 events
	// each have several sessions, far fewer than events.
	total := 0
	for _, s := range sessions {
		total += len(s)
	}
	if total <= 2*len(sessions) || total > len(recs)/5 {
		t.Errorf("%d sessions for %d users and %d events", total, len(sessions), len(recs))
	}
}

func TestClickstreamSessionIdle(t *testing.T) {
	g := NewClickstream(ClickstreamConfig{Users: 1, MeanSessionEvents: 1e9})
	r := rand.New(rand.NewPCG(1, 1))
	sess := func(now time.Time) string {
		_, d := g.Next(r, now, NewKeyPicker(Uniform, 0))
		var ev ClickEvent
		if err := json.Unmarshal(d, &ev); err != nil {
			t.Fatal(err)
		}
		return ev.Session
	}
	a := sess(t0)
	if b := sess(t0.Add(time.Minute)); b != a {
		t.Fatalf("session changed within a minute")
	}
	if c := sess(t0.Add(2 * time.Hour)); c == a {
		t.Fatalf("session survived two idle hours")
	}
}

func TestIoT(t *testing.T) {
	const n = 60000
	g := NewIoT(IoTConfig{AnomalyProb: 0.01})
	pks, recs := gen(g, 2, n, NewKeyPicker(Uniform, 0))
	anomalies := 0
	last := map[string]float64{}
	var deltaSum float64
	deltas := 0
	for i, d := range recs {
		m := decode(t, d, []string{"device", "ts"}, []string{"temp", "humidity", "battery"})
		dev := m["device"].(string)
		if dev != pks[i] || !strings.HasPrefix(dev, "sensor-") || len(dev) != len("sensor-0042") {
			t.Fatalf("device %q key %q", dev, pks[i])
		}
		temp, hum, bat := m["temp"].(float64), m["humidity"].(float64), m["battery"].(float64)
		if hum < 5 || hum > 99 || bat <= 0 || bat > 100 {
			t.Fatalf("out of range: %s", d)
		}
		if temp > AnomalyTemp {
			anomalies++
			continue
		}
		if prev, ok := last[dev]; ok {
			deltaSum += math.Abs(temp - prev)
			deltas++
		}
		last[dev] = temp
	}
	if len(last) != 200 {
		t.Errorf("%d devices", len(last))
	}
	// Binomial(60000, 0.01): mean 600, sd ≈ 24.
	if anomalies < 480 || anomalies > 720 {
		t.Errorf("%d anomalies in %d readings at p=0.01", anomalies, n)
	}
	// A random walk moves a little each reading.
	if mean := deltaSum / float64(deltas); mean > 1 || mean == 0 {
		t.Errorf("mean step between readings %.3f °C", mean)
	}

	g = NewIoT(IoTConfig{AnomalyProb: -1})
	_, recs = gen(g, 3, 20000, NewKeyPicker(Zipf, 0))
	for _, d := range recs {
		var rd IoTReading
		if err := json.Unmarshal(d, &rd); err != nil {
			t.Fatal(err)
		}
		if rd.Temp > AnomalyTemp {
			t.Fatalf("anomaly with anomalies off: %s", d)
		}
	}
}

func TestIoTBatteryDrains(t *testing.T) {
	g := NewIoT(IoTConfig{Devices: 1, AnomalyProb: -1})
	_, recs := gen(g, 4, 500, NewKeyPicker(Uniform, 0))
	var first, lastB IoTReading
	json.Unmarshal(recs[0], &first)
	json.Unmarshal(recs[len(recs)-1], &lastB)
	if !(lastB.Battery < first.Battery) || first.Battery-lastB.Battery > 20 {
		t.Errorf("battery %v → %v over 500 readings", first.Battery, lastB.Battery)
	}
}

func TestLogs(t *testing.T) {
	const n = 100000
	g := NewLogs(LogsConfig{})
	pks, recs := gen(g, 5, n, NewKeyPicker(Uniform, 0))
	var ok, client, server, errs int
	svcs := map[string]bool{}
	lat := map[string][]float64{}
	for i, d := range recs {
		m := decode(t, d, []string{"service", "instance", "level", "method", "path", "msg", "ts"}, []string{"status", "latency_ms"})
		svc, inst, level := m["service"].(string), m["instance"].(string), m["level"].(string)
		status := int(m["status"].(float64))
		if inst != pks[i] || !strings.HasPrefix(inst, svc+"-") {
			t.Fatalf("instance %q of %q, key %q", inst, svc, pks[i])
		}
		svcs[svc] = true
		lat[svc] = append(lat[svc], m["latency_ms"].(float64))
		switch {
		case status >= 200 && status < 400:
			ok++
			if level == LevelError {
				t.Fatalf("ERROR for %d: %s", status, d)
			}
		case status < 500:
			client++
			if level != LevelWarn {
				t.Fatalf("level %s for %d", level, status)
			}
		default:
			server++
		}
		if level == LevelError {
			errs++
			if status < 500 {
				t.Fatalf("error log with status %d", status)
			}
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	t.Logf("ok %.4f, 4xx %.4f, 5xx %.4f, ERROR %.4f", share(ok), share(client), share(server), share(errs))
	if len(svcs) < 8 || g.Entities() < 16 || g.Key(0) != "api-gw-1" {
		t.Errorf("%d services, %d instances, first %q", len(svcs), g.Entities(), g.Key(0))
	}
	if share(ok) < 0.85 || share(client) < 0.01 || share(client) > 0.10 || server == 0 || share(server) > 0.05 {
		t.Errorf("status mix: ok %.4f, 4xx %.4f, 5xx %.4f", share(ok), share(client), share(server))
	}
	if errs != server {
		t.Errorf("%d ERROR logs, %d 5xx", errs, server)
	}
	// Long tail: p99 far above the median, for every service.
	for svc, ls := range lat {
		sort.Float64s(ls)
		p50, p99 := ls[len(ls)/2], ls[len(ls)*99/100]
		if p99 < 3*p50 {
			t.Errorf("%s latency p50 %.1f p99 %.1f: no tail", svc, p50, p99)
		}
	}
}

func TestLogsBursts(t *testing.T) {
	// With bursts frequent, 5xx come in runs: far more 5xx than the
	// background rate, and clustered by service.
	g := NewLogs(LogsConfig{BurstProb: 0.002, BurstRecords: 50})
	_, recs := gen(g, 6, 50000, NewKeyPicker(Uniform, 0))
	server := 0
	for _, d := range recs {
		var ln LogLine
		json.Unmarshal(d, &ln)
		if ln.Status >= 500 {
			server++
		}
	}
	if float64(server)/50000 < 0.01 {
		t.Errorf("only %d 5xx with frequent bursts", server)
	}
	g = NewLogs(LogsConfig{BurstProb: -1})
	_, recs = gen(g, 6, 50000, NewKeyPicker(Uniform, 0))
	server = 0
	for _, d := range recs {
		var ln LogLine
		json.Unmarshal(d, &ln)
		if ln.Status >= 500 {
			server++
		}
	}
	if float64(server)/50000 > 0.005 {
		t.Errorf("%d 5xx without bursts", server)
	}
}

func TestSizeProfile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	natural := []byte(`{"a":1}`)
	if got := (SizeProfile{}).pad(r, natural, 3); !bytes.Equal(got, natural) {
		t.Fatalf("zero profile changed the record: %s", got)
	}
	if got := (SizeProfile{TargetBytes: 4}).pad(r, natural, 3); !bytes.Equal(got, natural) {
		t.Fatalf("target below natural size changed the record: %s", got)
	}
	got := (SizeProfile{TargetBytes: 40}).pad(r, []byte(`{}`), 3)
	if len(got) != 40 || !json.Valid(got) {
		t.Fatalf("padded {} to %d bytes: %s", len(got), got)
	}

	for _, g := range generators() {
		sp := SizeProfile{TargetBytes: 2048, Spread: 0.25}
		_, recs := gen(g, 7, 4000, NewKeyPicker(Uniform, 0))
		var sum, sq float64
		for _, d := range recs {
			p := sp.pad(r, d, 12)
			var m map[string]any
			if err := json.Unmarshal(p, &m); err != nil {
				t.Fatalf("padded record is not JSON: %v", err)
			}
			if _, ok := m["pad"].(string); !ok && len(p) != len(d) {
				t.Fatalf("no pad field")
			}
			sum += float64(len(p))
			sq += float64(len(p)) * float64(len(p))
		}
		mean := sum / float64(len(recs))
		sd := math.Sqrt(sq/float64(len(recs)) - mean*mean)
		if math.Abs(mean-2048) > 0.05*2048 || sd < 0.15*2048 || sd > 0.35*2048 {
			t.Errorf("%s: mean size %.0f, sd %.0f for target 2048 ±25%%", g.Kind(), mean, sd)
		}
	}

	huge := (SizeProfile{TargetBytes: 10 << 20}).pad(r, natural, 100)
	if len(huge)+100 != MaxRecordBytes || !json.Valid(huge) {
		t.Errorf("oversized target gave %d bytes", len(huge))
	}
}
