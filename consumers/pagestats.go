package consumers

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// PageStats is a Processor for clickstream records
// ({"event","user","session","page","referrer","ua","ts"}): the top pages,
// the active sessions and the event rate over the last Window. It is safe
// for concurrent use.
type PageStats struct {
	clock   engine.Clock
	topN    int
	started time.Time

	mu        sync.Mutex // guards what follows
	slots     [windowSecs]pageSlot
	sessions  map[string]int64 // session → last second seen
	lastPrune int64
	total     int64
	skipped   int64
	other     int64
}

type pageSlot struct {
	valid  bool
	sec    int64
	events int
	pages  map[string]int
}

// NewPageStats returns a PageStats reporting the topN pages (default 5
// when topN ≤ 0), with windows read from clock (SystemClock when nil).
func NewPageStats(clock engine.Clock, topN int) *PageStats {
	if clock == nil {
		clock = engine.SystemClock{}
	}
	if topN <= 0 {
		topN = 5
	}
	return &PageStats{clock: clock, topN: topN, started: clock.Now(), sessions: make(map[string]int64)}
}

type clickRecord struct {
	Event   *string `json:"event"`
	User    *string `json:"user"`
	Session *string `json:"session"`
	Page    *string `json:"page"`
	TS      *string `json:"ts"`
}

type pageView struct {
	page, session string
	sec           int64
}

// Process counts the page views among records. Records that are not JSON
// objects or lack a page are counted as skipped; JSON objects with none of
// the clickstream fields (another generator's records) as other.
func (p *PageStats) Process(_ string, records []engine.Record) error {
	now := p.clock.Now()
	views := make([]pageView, 0, len(records))
	var skipped, other int64
	for _, r := range records {
		var c clickRecord
		if err := decodeObject(r.Data, &c); err != nil {
			skipped++
			continue
		}
		if c.Event == nil && c.User == nil && c.Session == nil && c.Page == nil {
			other++
			continue
		}
		if c.Page == nil || *c.Page == "" {
			skipped++
			continue
		}
		v := pageView{page: *c.Page, sec: eventTime(c.TS, r, now).Unix()}
		if c.Session != nil {
			v.session = *c.Session
		}
		views = append(views, v)
	}

	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += int64(len(views))
	p.skipped += skipped
	p.other += other
	for _, v := range views {
		if !inWindow(v.sec, nowSec) {
			continue
		}
		sl := &p.slots[slotOf(v.sec)]
		if !sl.valid || sl.sec != v.sec {
			*sl = pageSlot{valid: true, sec: v.sec, pages: make(map[string]int)}
		}
		sl.events++
		sl.pages[v.page]++
		if v.session != "" {
			if last, ok := p.sessions[v.session]; !ok || v.sec > last {
				p.sessions[v.session] = v.sec
			}
		}
	}
	p.prune(nowSec)
	return nil
}

// prune forgets sessions not seen within the window, once per second.
// Called with p.mu held.
func (p *PageStats) prune(nowSec int64) {
	if nowSec == p.lastPrune {
		return
	}
	p.lastPrune = nowSec
	for s, sec := range p.sessions {
		if sec <= nowSec-windowSecs {
			delete(p.sessions, s)
		}
	}
}

// PageCount is one page in a PageStatsResult.
type PageCount struct {
	Page  string
	Count int
	// Share is Count over all page views in the window, from 0 to 1.
	Share float64
}

// PageStatsResult is an immutable picture of a PageStats.
type PageStatsResult struct {
	At time.Time
	// TopPages are the most viewed pages in the window, most first (ties by
	// page), at most the configured number.
	TopPages []PageCount
	// Events is the number of page views in the window.
	Events int
	// ActiveSessions is the number of sessions seen in the window.
	ActiveSessions int
	// EventsPerSecond is Events over the window, or over the time since
	// the processor was made when that is shorter.
	EventsPerSecond float64
	// Total counts the page views processed; Skipped the records that were
	// not JSON or lacked a page; Other the records of other kinds.
	Total, Skipped, Other int64
}

// Result returns the statistics as of the clock's now.
func (p *PageStats) Result() PageStatsResult {
	now := p.clock.Now()
	nowSec := now.Unix()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prune(nowSec)
	res := PageStatsResult{At: now, Total: p.total, Skipped: p.skipped, Other: p.other}
	counts := make(map[string]int)
	for i := range p.slots {
		sl := &p.slots[i]
		if !sl.valid || !inWindow(sl.sec, nowSec) {
			continue
		}
		res.Events += sl.events
		for page, c := range sl.pages {
			counts[page] += c
		}
	}
	for _, sec := range p.sessions {
		if inWindow(sec, nowSec) {
			res.ActiveSessions++
		}
	}
	res.EventsPerSecond = float64(res.Events) / windowSpan(p.started, now).Seconds()
	top := make([]PageCount, 0, len(counts))
	for page, c := range counts {
		top = append(top, PageCount{Page: page, Count: c, Share: float64(c) / float64(res.Events)})
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Count != top[j].Count {
			return top[i].Count > top[j].Count
		}
		return top[i].Page < top[j].Page
	})
	if len(top) > p.topN {
		top = top[:p.topN:p.topN]
	}
	res.TopPages = top
	return res
}

// Summary returns the top three pages with their shares, such as
// "top: / 31%  /cart 12%  /p/7 9%".
func (p *PageStats) Summary() string { return p.Result().Summary() }

// Summary returns the top three pages with their shares in one line.
func (r PageStatsResult) Summary() string {
	if len(r.TopPages) == 0 {
		return "top: no page views"
	}
	var b strings.Builder
	b.WriteString("top:")
	for i, pc := range r.TopPages {
		if i == 3 {
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, " %s %.0f%%", pc.Page, pc.Share*100)
	}
	return b.String()
}
