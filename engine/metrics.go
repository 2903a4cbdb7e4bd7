package engine

import (
	"sync"
	"time"
)

// shardMetrics keeps one-second buckets of a shard's counters in a ring
// indexed by Unix second, so old seconds fall out without any sweeping.
type shardMetrics struct {
	mu      sync.Mutex
	buckets [HistorySeconds + 2]Rate
	secs    [HistorySeconds + 2]int64 // which second each bucket holds
	totals  Rate
}

func (m *shardMetrics) add(now time.Time, delta Rate) {
	sec := now.Unix()
	i := int(sec % int64(len(m.buckets)))
	m.mu.Lock()
	if m.secs[i] != sec {
		m.secs[i] = sec
		m.buckets[i] = Rate{}
	}
	m.buckets[i].add(delta)
	m.totals.add(delta)
	m.mu.Unlock()
}

// history returns the last HistorySeconds complete seconds before now,
// oldest first, and the totals.
func (m *shardMetrics) history(now time.Time) ([]Rate, Rate) {
	out := make([]Rate, HistorySeconds)
	last := now.Unix() - 1
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := 0; k < HistorySeconds; k++ {
		sec := last - int64(HistorySeconds-1-k)
		if sec < 0 {
			continue
		}
		i := int(sec % int64(len(m.buckets)))
		if m.secs[i] == sec {
			out[k] = m.buckets[i]
		}
	}
	return out, m.totals
}

// last returns the last complete second before now.
func (m *shardMetrics) last(now time.Time) Rate {
	sec := now.Unix() - 1
	i := int(sec % int64(len(m.buckets)))
	m.mu.Lock()
	defer m.mu.Unlock()
	if sec >= 0 && m.secs[i] == sec {
		return m.buckets[i]
	}
	return Rate{}
}

// eventLog keeps the most recent engine events.
type eventLog struct {
	mu     sync.Mutex
	seq    uint64
	events []Event // ring of MaxEvents
	start  int
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	ev.Seq = l.seq
	if len(l.events) < MaxEvents {
		l.events = append(l.events, ev)
		return
	}
	l.events[l.start] = ev
	l.start = (l.start + 1) % MaxEvents
}

func (l *eventLog) list() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.events))
	out = append(out, l.events[l.start:]...)
	return append(out, l.events[:l.start]...)
}
