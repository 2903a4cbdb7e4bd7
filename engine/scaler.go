package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// The on-demand scaler's thresholds, as shares of a shard's write limit
// (1,000 records/s or 1 MiB/s, whichever is nearer).
const (
	// ScaleUpUtilisation: a shard at or above it (or throttling writes) is hot.
	ScaleUpUtilisation = 0.80
	// ScaleDownUtilisation: a shard below it every second is cold.
	ScaleDownUtilisation = 0.20
	// maxScalePieces bounds how many shards one decision makes of one shard;
	// throttled retries inflate the demand the engine sees.
	maxScalePieces = 8
)

// The scaler's defaults, chosen to behave like the service: it absorbs up
// to twice its recent peak write at once and scales to a new level within
// about 15 minutes, while it sizes for its 30-day peak and gives capacity
// back slowly. The console passes compressed values for a demo.
const (
	// DefaultScaleInterval: the service's metrics are per minute.
	DefaultScaleInterval = time.Minute
	// DefaultScaleUpWindow: heat sustained for 5 minutes is load, not a
	// blip; with the interval a doubling is absorbed in 5–6 minutes.
	DefaultScaleUpWindow = 5 * time.Minute
	// DefaultScaleDownWindow: a day of quiet before shards are merged.
	DefaultScaleDownWindow = 24 * time.Hour
	// DefaultScaleCooldown: one action per stream per 5 minutes.
	DefaultScaleCooldown = 5 * time.Minute
)

func (o *Options) fillScaling() {
	if o.ScaleInterval == 0 {
		o.ScaleInterval = DefaultScaleInterval
	}
	if o.ScaleUpWindow <= 0 {
		o.ScaleUpWindow = DefaultScaleUpWindow
	}
	if o.ScaleDownWindow <= 0 {
		o.ScaleDownWindow = DefaultScaleDownWindow
	}
	if o.ScaleCooldown == 0 {
		o.ScaleCooldown = DefaultScaleCooldown
	}
}

// ScalingAction is what the scaler did to shards.
type ScalingAction string

// The scaler's actions.
const (
	ScaleSplit ScalingAction = "split"
	ScaleMerge ScalingAction = "merge"
)

// ScalingDecision is one action of the on-demand scaler and why.
type ScalingDecision struct {
	At     time.Time
	Stream string
	Action ScalingAction
	// Shards are the shards the action closed; Children the open shards
	// that now carry their key range.
	Shards   []string
	Children []string
	// Reason is the event message, e.g. "shard shardId-000000000003 at 96 %
	// of its write limit for 30 s → split into …".
	Reason string
}

// ScalingStatus is an ON_DEMAND stream's scaler state in a Snapshot.
type ScalingStatus struct {
	// LastScale is when the scaler last acted (zero if never).
	LastScale time.Time
	// CooldownUntil is when it may act again (zero when it may now).
	CooldownUntil time.Time
	// HotShards and ColdShards count open shards currently hot or cold.
	HotShards, ColdShards int
	// ScaleUpWindow and ScaleDownWindow are how long heat or quiet must last.
	ScaleUpWindow, ScaleDownWindow time.Duration
}

// scalerState is what the scaler remembers of an ON_DEMAND stream, guarded
// by Engine.mu. lastScale and every shard's coldSince are persisted with
// the stream; heat is short-lived and starts again after a reopen.
type scalerState struct {
	lastEval  time.Time
	lastScale time.Time
	heldBack  time.Time // last "held back by the shard quota" event
	heat      map[uint32]*shardHeat
}

// shardHeat is the scaler's memory of one open shard.
type shardHeat struct {
	hotSince  time.Time
	hotSum    float64 // Σ per-second demand (share of the limit) while hot
	hotSecs   int
	hotPeak   float64
	throttled int64
	coldSince time.Time
}

type scalerMeta struct {
	LastScale int64            `json:"last_scale_ms,omitempty"`
	ColdSince map[uint32]int64 `json:"cold_since_ms,omitempty"`
}

func (s *stream) scalerMeta() *scalerMeta {
	if s.mode != ModeOnDemand || s.scale == nil {
		return nil
	}
	m := &scalerMeta{LastScale: ms(s.scale.lastScale)}
	for idx, h := range s.scale.heat {
		if !h.coldSince.IsZero() {
			if m.ColdSince == nil {
				m.ColdSince = map[uint32]int64{}
			}
			m.ColdSince[idx] = ms(h.coldSince)
		}
	}
	if m.LastScale == 0 && m.ColdSince == nil {
		return nil
	}
	return m
}

func (s *stream) loadScaler(m *scalerMeta) {
	if m == nil || s.mode != ModeOnDemand {
		return
	}
	st := &scalerState{lastScale: fromMs(m.LastScale), heat: map[uint32]*shardHeat{}}
	for idx, v := range m.ColdSince {
		st.heat[idx] = &shardHeat{coldSince: fromMs(v)}
	}
	s.scale = st
}

// EvaluateScaling runs the on-demand scaler once at now: for every ON_DEMAND
// stream it reads the per-second write metrics of each open shard since the
// last evaluation and, outside the cooldown,
//   - splits at their midpoints the shards hot (≥ 80 % of the write limit on
//     average, or throttling) for ScaleUpWindow, and with them any shard
//     whose recent peak is over half its limit, into enough halves that each
//     carries at most half of the peak: the stream can then take twice it;
//   - otherwise merges adjacent pairs of shards both cold (< 20 % every
//     second) for ScaleDownWindow, never below 4 open shards.
//
// Each action is an EventMode event with its reason. PROVISIONED streams
// are never touched. The background loop calls it every ScaleInterval;
// tests and demos call it with a ManualClock.
func (e *Engine) EvaluateScaling(now time.Time) ([]ScalingDecision, error) {
	e.settleReshards()
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.streams))
	for name := range e.streams {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []ScalingDecision
	var firstErr error
	for _, name := range names {
		s := e.streams[name]
		if s.deleting {
			continue
		}
		if s.mode != ModeOnDemand {
			s.scale = nil
			continue
		}
		ds, err := e.evaluateStream(s, now)
		out = append(out, ds...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

// demand is the share of a shard's write limit that writers asked for in
// one second: accepted plus throttled records, and bytes scaled up by the
// same proportion, whichever is nearer its limit.
func demand(r Rate) float64 {
	recs := r.RecordsIn + r.WriteThrottled
	u := float64(recs) / ShardWriteRecordsPerSec
	if r.RecordsIn > 0 {
		b := float64(r.BytesIn) * float64(recs) / float64(r.RecordsIn)
		u = max(u, b/ShardWriteBytesPerSec)
	}
	return u
}

// seconds returns the buckets of the Unix seconds [from, to), zero where
// nothing was recorded; at most the ring's length.
func (m *shardMetrics) seconds(from, to int64) []Rate {
	if to-from > int64(len(m.buckets)) {
		from = to - int64(len(m.buckets))
	}
	if from >= to {
		return nil
	}
	out := make([]Rate, 0, to-from)
	m.mu.Lock()
	defer m.mu.Unlock()
	for sec := from; sec < to; sec++ {
		if sec < 0 {
			out = append(out, Rate{})
			continue
		}
		i := int(sec % int64(len(m.buckets)))
		if m.secs[i] == sec {
			out = append(out, m.buckets[i])
		} else {
			out = append(out, Rate{})
		}
	}
	return out
}

// evaluateStream updates one stream's heat and acts on it. e.mu is held.
func (e *Engine) evaluateStream(s *stream, now time.Time) ([]ScalingDecision, error) {
	st := s.scale
	if st == nil {
		st = &scalerState{heat: map[uint32]*shardHeat{}}
		s.scale = st
	}
	// Rates are kept on the rate clock; so is lastEval.
	rnow := e.rateTime(now)
	nowSec := rnow.Unix()
	var from int64
	switch {
	case !st.lastEval.IsZero():
		from = st.lastEval.Unix()
	case e.opts.ScaleInterval >= time.Second:
		from = nowSec - int64(e.opts.ScaleInterval/time.Second)
	default:
		from = nowSec - 1
	}
	from = max(from, nowSec-HistorySeconds)
	if rnow.After(st.lastEval) {
		st.lastEval = rnow
	}
	open := s.openShards()
	changed := false
	live := map[uint32]bool{}
	for _, sh := range open {
		live[sh.index] = true
		h := st.heat[sh.index]
		if h == nil {
			h = &shardHeat{}
			st.heat[sh.index] = h
		}
		start := max(from, e.rateTime(sh.created).Unix())
		rates := sh.metrics.seconds(start, nowSec)
		if len(rates) == 0 {
			continue
		}
		var sum, peak float64
		var throttled int64
		firstHot := int64(-1)
		cold := true
		for i, r := range rates {
			u := demand(r)
			sum += u
			peak = max(peak, u)
			throttled += r.WriteThrottled
			if firstHot < 0 && (u >= ScaleUpUtilisation || r.WriteThrottled > 0) {
				firstHot = start + int64(i)
			}
			if u >= ScaleDownUtilisation || r.WriteThrottled > 0 {
				cold = false
			}
		}
		if sum/float64(len(rates)) >= ScaleUpUtilisation || throttled > 0 {
			if h.hotSince.IsZero() {
				h.hotSince = time.Unix(firstHot, 0)
				h.hotSum, h.hotSecs, h.hotPeak, h.throttled = 0, 0, 0, 0
			}
			h.hotSum += sum
			h.hotSecs += len(rates)
			h.hotPeak = max(h.hotPeak, peak)
			h.throttled += throttled
		} else {
			h.hotSince = time.Time{}
		}
		switch {
		case cold && h.coldSince.IsZero():
			h.coldSince = time.Unix(start, 0)
			changed = true
		case !cold && !h.coldSince.IsZero():
			h.coldSince = time.Time{}
			changed = true
		}
	}
	for idx := range st.heat {
		if !live[idx] {
			delete(st.heat, idx)
		}
	}

	var decisions []ScalingDecision
	if s.status(now) == StatusActive && !st.cooling(now, e.opts.ScaleCooldown) {
		decisions = e.scaleUp(s, st, open, now)
		if len(decisions) == 0 {
			decisions = e.scaleDown(s, st, open, now)
		}
	}
	if len(decisions) > 0 {
		st.lastScale = now
		for idx := range st.heat {
			if sh := s.shardByIndex(idx); sh == nil || sh.isClosed() {
				delete(st.heat, idx)
			}
		}
		changed = true
	}
	for _, d := range decisions {
		e.event(EventMode, s.name, d.Shards[0], "%s", d.Reason)
	}
	if changed {
		if err := e.saveStream(s); err != nil {
			return decisions, err
		}
	}
	return decisions, nil
}

func (st *scalerState) cooling(now time.Time, cooldown time.Duration) bool {
	return cooldown > 0 && !st.lastScale.IsZero() && now.Sub(st.lastScale) < cooldown
}

// scaleUp splits when some shard has been hot for the window. e.mu is held.
func (e *Engine) scaleUp(s *stream, st *scalerState, open []*shard, now time.Time) []ScalingDecision {
	triggered := false
	for _, sh := range open {
		if h := st.heat[sh.index]; h != nil && !h.hotSince.IsZero() && now.Sub(h.hotSince) >= e.opts.ScaleUpWindow {
			triggered = true
		}
	}
	if !triggered {
		return nil
	}
	type candidate struct {
		sh      *shard
		h       *shardHeat
		peak    float64
		pieces  int
		trigger bool
	}
	lookback := min(int64(e.opts.ScaleUpWindow/time.Second), HistorySeconds)
	nowSec := e.rateTime(now).Unix()
	var cands []candidate
	for _, sh := range open {
		h := st.heat[sh.index]
		c := candidate{sh: sh, h: h}
		for _, r := range sh.metrics.seconds(max(nowSec-lookback, e.rateTime(sh.created).Unix()), nowSec) {
			c.peak = max(c.peak, demand(r))
		}
		c.trigger = h != nil && !h.hotSince.IsZero() && now.Sub(h.hotSince) >= e.opts.ScaleUpWindow
		if c.trigger {
			c.peak = max(c.peak, h.hotPeak)
		} else if c.peak <= 0.5 {
			continue // takes twice its peak already
		}
		c.pieces = piecesFor(c.peak)
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].peak > cands[j].peak })
	var out []ScalingDecision
	var held []string
	for _, c := range cands {
		if !splittable(c.sh.rng) {
			continue
		}
		if err := e.checkShardQuota(c.pieces - 1); err != nil {
			held = append(held, c.sh.id)
			continue
		}
		children := e.splitInto(s, c.sh, c.pieces, now)
		ids := make([]string, len(children))
		for i, ch := range children {
			ids[i] = ch.id
		}
		into := "split into " + strings.Join(ids, ", ")
		if len(ids) > 2 {
			into = fmt.Sprintf("split into %d: %s", len(ids), strings.Join(ids, ", "))
		}
		var reason string
		if c.trigger {
			pct := int(c.h.hotSum/float64(max(c.h.hotSecs, 1))*100 + 0.5)
			throttled := ""
			if c.h.throttled > 0 {
				throttled = fmt.Sprintf(", %d writes throttled", c.h.throttled)
			}
			reason = fmt.Sprintf("shard %s at %d %% of its write limit for %s%s → %s (peak %d %%, room for twice it)",
				c.sh.id, pct, roughDuration(now.Sub(c.h.hotSince)), throttled, into, int(c.peak*100+0.5))
		} else {
			reason = fmt.Sprintf("shard %s peaked at %d %% of its write limit, too close to take twice its peak → %s",
				c.sh.id, int(c.peak*100+0.5), into)
		}
		out = append(out, ScalingDecision{At: now, Stream: s.name, Action: ScaleSplit, Shards: []string{c.sh.id}, Children: ids, Reason: reason})
	}
	if len(held) > 0 && (st.heldBack.IsZero() || now.Sub(st.heldBack) >= 10*time.Minute) {
		st.heldBack = now
		e.event(EventMode, s.name, held[0], "on-demand scale-up of %s held back: it would pass the account's limit of %d open shards", strings.Join(held, ", "), e.opts.ShardLimit)
	}
	return out
}

// piecesFor is how many equal parts a shard with this peak demand needs so
// that each can take twice its share: a power of two (midpoint splits), at
// least 2 and at most maxScalePieces.
func piecesFor(peak float64) int {
	need := int(ceilish(2 * peak))
	n := 2
	for n < need && n < maxScalePieces {
		n *= 2
	}
	return n
}

// splittable reports whether a range can be split at its midpoint.
func splittable(r HashKeyRange) bool {
	mid := r.midpoint()
	return mid.Cmp(r.Start.Add(1)) > 0 && mid.Cmp(r.End) < 0
}

// splitInto halves sh, then the halves, until there are pieces parts, and
// returns the open parts in key order. e.mu is held.
func (e *Engine) splitInto(s *stream, sh *shard, pieces int, now time.Time) []*shard {
	work := []*shard{sh}
	for len(work) < pieces {
		var next []*shard
		for _, w := range work {
			if !splittable(w.rng) {
				next = append(next, w)
				continue
			}
			lo, hi := e.split(s, w, w.rng.midpoint(), now)
			next = append(next, lo, hi)
		}
		if len(next) == len(work) {
			break
		}
		work = next
	}
	return work
}

// scaleDown merges adjacent pairs of shards cold for the window, keeping at
// least the initial four and the shards the warm throughput needs. e.mu is held.
func (e *Engine) scaleDown(s *stream, st *scalerState, open []*shard, now time.Time) []ScalingDecision {
	spare := len(open) - max(OnDemandInitialShards, s.warmShards())
	var out []ScalingDecision
	coldFor := func(sh *shard) time.Duration {
		h := st.heat[sh.index]
		if h == nil || h.coldSince.IsZero() {
			return -1
		}
		return now.Sub(h.coldSince)
	}
	for i := 0; i+1 < len(open) && spare > 0; i++ {
		a, b := open[i], open[i+1]
		ca, cb := coldFor(a), coldFor(b)
		if ca < e.opts.ScaleDownWindow || cb < e.opts.ScaleDownWindow || !adjacent(a.rng, b.rng) {
			continue
		}
		child := e.merge(s, a, b, now)
		reason := fmt.Sprintf("shards %s and %s under %d %% of their write limit for %s → merged into %s",
			a.id, b.id, int(ScaleDownUtilisation*100), roughDuration(min(ca, cb)), child.id)
		out = append(out, ScalingDecision{At: now, Stream: s.name, Action: ScaleMerge, Shards: []string{a.id, b.id}, Children: []string{child.id}, Reason: reason})
		spare--
		i++
	}
	return out
}

// roughDuration writes a duration the way a person says it: "30 s",
// "12 min", "3 h", "2 d".
func roughDuration(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf("%d d", int(d/(24*time.Hour)))
}

// scalingStatus describes an ON_DEMAND stream's scaler for a Snapshot and
// fills each open shard's heat. e.mu is held (shared).
func (e *Engine) scalingStatus(s *stream, ss *StreamSnapshot, now time.Time) {
	if s.mode != ModeOnDemand {
		return
	}
	out := &ScalingStatus{ScaleUpWindow: e.opts.ScaleUpWindow, ScaleDownWindow: e.opts.ScaleDownWindow}
	if st := s.scale; st != nil {
		out.LastScale = st.lastScale
		if st.cooling(now, e.opts.ScaleCooldown) {
			out.CooldownUntil = st.lastScale.Add(e.opts.ScaleCooldown)
		}
		for i := range ss.Shards {
			shs := &ss.Shards[i]
			h := st.heat[uint32(shs.Index)]
			if !shs.Open || h == nil {
				continue
			}
			shs.HotSince, shs.ColdSince = h.hotSince, h.coldSince
			if !h.hotSince.IsZero() {
				out.HotShards++
			}
			if !h.coldSince.IsZero() {
				out.ColdShards++
			}
		}
	}
	ss.Scaling = out
}
