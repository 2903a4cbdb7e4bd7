package consumers

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// LogStats is a Processor for service logs ({"service","instance","level",
// "method","path","status","latency_ms","msg","ts"}): per service over the
// last Window, the requests, the error rate (status ≥ 500 or level ERROR)
// and the p50/p99 latency from a bounded log-scale histogram. It is safe
// for concurrent use.
type LogStats struct {
	clock engine.Clock

	mu        sync.Mutex // guards what follows
	services  map[string]*serviceWindow
	lastPrune int64
	total     int64
	skipped   int64
	other     int64
}

type serviceWindow struct {
	slots [windowSecs]logSlot
	last  int64 // latest second with a request
}

type logSlot struct {
	valid    bool
	sec      int64
	requests int
	errors   int
	lat      *latencyHistogram // nil until a latency arrives
}

// NewLogStats returns a LogStats with windows read from clock
// (SystemClock when nil).
func NewLogStats(clock engine.Clock) *LogStats {
	if clock == nil {
		clock = engine.SystemClock{}
	}
	return &LogStats{clock: clock, services: make(map[string]*serviceWindow)}
}

type logRecord struct {
	Service   *string  `json:"service"`
	Level     *string  `json:"level"`
	Status    *float64 `json:"status"`
	LatencyMS *float64 `json:"latency_ms"`
	TS        *string  `json:"ts"`
}

type logLine struct {
	service string
	sec     int64
	failed  bool
	latency float64
	hasLat  bool
}

// Process counts the log lines among records. Records that are not JSON
// objects or lack a service are counted as skipped; JSON objects with none
// of the log fields as other.
func (p *LogStats) Process(_ string, records []engine.Record) error {
	now := p.clock.Now()
	lines := make([]logLine, 0, len(records))
	var skipped, other int64
	for _, r := range records {
		var c logRecord
		if err := decodeObject(r.Data, &c); err != nil {
			skipped++
			continue
		}
		if c.Service == nil && c.Level == nil && c.Status == nil && c.LatencyMS == nil {
			other++
			continue
		}
		if c.Service == nil || *c.Service == "" {
			skipped++
			continue
		}
		l := logLine{service: *c.Service, sec: eventTime(c.TS, r, now).Unix()}
		l.failed = (c.Status != nil && *c.Status >= 500) || (c.Level != nil && *c.Level == "ERROR")
		if c.LatencyMS != nil {
			l.latency, l.hasLat = *c.LatencyMS, true
		}
		lines = append(lines, l)
	}

	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += int64(len(lines))
	p.skipped += skipped
	p.other += other
	for _, l := range lines {
		if !inWindow(l.sec, nowSec) {
			continue
		}
		w := p.services[l.service]
		if w == nil {
			w = &serviceWindow{}
			p.services[l.service] = w
		}
		if l.sec > w.last {
			w.last = l.sec
		}
		sl := &w.slots[slotOf(l.sec)]
		if !sl.valid || sl.sec != l.sec {
			lat := sl.lat
			*sl = logSlot{valid: true, sec: l.sec}
			if lat != nil { // reuse the histogram's memory
				*lat = latencyHistogram{}
				sl.lat = lat
			}
		}
		sl.requests++
		if l.failed {
			sl.errors++
		}
		if l.hasLat {
			if sl.lat == nil {
				sl.lat = &latencyHistogram{}
			}
			sl.lat.add(l.latency)
		}
	}
	p.prune(nowSec)
	return nil
}

// prune forgets services without a request in the window, once per
// second. Called with p.mu held.
func (p *LogStats) prune(nowSec int64) {
	if nowSec == p.lastPrune {
		return
	}
	p.lastPrune = nowSec
	for s, w := range p.services {
		if w.last <= nowSec-windowSecs {
			delete(p.services, s)
		}
	}
}

// ServiceStats is one service in a LogStatsResult.
type ServiceStats struct {
	Service  string
	Requests int
	Errors   int
	// ErrorRate is Errors over Requests, from 0 to 1.
	ErrorRate float64
	// P50 and P99 are latency quantiles in milliseconds, 0 when no line
	// carried a latency.
	P50, P99 float64
}

// LogStatsResult is an immutable picture of a LogStats.
type LogStatsResult struct {
	At time.Time
	// Services lists the services with requests in the window, busiest
	// first (ties by name).
	Services []ServiceStats
	// Requests and Errors are the window's totals over all services.
	Requests, Errors int
	// Total counts the log lines processed; Skipped the records that were
	// not JSON or lacked a service; Other the records of other kinds.
	Total, Skipped, Other int64
}

// Result returns the per-service statistics as of the clock's now.
func (p *LogStats) Result() LogStatsResult {
	now := p.clock.Now()
	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(nowSec)
	res := LogStatsResult{At: now, Total: p.total, Skipped: p.skipped, Other: p.other}
	var h latencyHistogram
	for name, w := range p.services {
		s := ServiceStats{Service: name}
		h = latencyHistogram{}
		for i := range w.slots {
			sl := &w.slots[i]
			if !sl.valid || !inWindow(sl.sec, nowSec) {
				continue
			}
			s.Requests += sl.requests
			s.Errors += sl.errors
			h.merge(sl.lat)
		}
		if s.Requests == 0 {
			continue
		}
		s.ErrorRate = float64(s.Errors) / float64(s.Requests)
		s.P50 = h.quantile(0.50)
		s.P99 = h.quantile(0.99)
		res.Requests += s.Requests
		res.Errors += s.Errors
		res.Services = append(res.Services, s)
	}
	sort.Slice(res.Services, func(i, j int) bool {
		a, b := res.Services[i], res.Services[j]
		if a.Requests != b.Requests {
			return a.Requests > b.Requests
		}
		return a.Service < b.Service
	})
	return res
}

// Summary returns the service with the highest error rate, such as
// "checkout err 4.2% p99 310ms".
func (p *LogStats) Summary() string { return p.Result().Summary() }

// Worst returns the service with the highest error rate (ties: the busier,
// then by name); ok is false when there are no requests in the window.
func (r LogStatsResult) Worst() (s ServiceStats, ok bool) {
	for i, c := range r.Services {
		if i == 0 || c.ErrorRate > s.ErrorRate {
			s = c
		}
	}
	return s, len(r.Services) > 0
}

// Summary returns the service with the highest error rate in one line.
func (r LogStatsResult) Summary() string {
	s, ok := r.Worst()
	if !ok {
		return "no requests"
	}
	return fmt.Sprintf("%s err %.1f%% p99 %s", s.Service, s.ErrorRate*100, fmtMillis(s.P99))
}
