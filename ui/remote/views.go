package remote

import (
	"fmt"
	"time"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/ui"
)

// settle is how far behind now the measured write rate looks: records of
// the last ReadInterval may not have been read yet.
func (b *Backend) settle() time.Duration { return b.cfg.ReadInterval + time.Second }

// Snapshot pictures the remote stream from the latest listing and the
// console's own measurements.
func (b *Backend) Snapshot() engine.Snapshot {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	snap := engine.Snapshot{At: now, LimitsEnabled: true, Events: append([]engine.Event(nil), b.events...)}
	if !b.haveSum {
		return snap
	}
	s := b.sum
	ss := engine.StreamSnapshot{
		Name: s.StreamName, ARN: s.StreamARN, Status: s.StreamStatus, Mode: s.StreamMode, RetentionHours: s.RetentionPeriodHours,
		Created: s.StreamCreation, EnhancedMetrics: s.EnhancedMonitoring, MaxRecordSizeKiB: s.MaxRecordSizeInKiB, WarmThroughput: s.WarmThroughput,
	}
	if ss.Name == "" {
		ss.Name = b.cfg.Stream
	}
	children := map[string][]string{}
	for _, sh := range b.shards {
		for _, p := range []string{sh.ParentShardID, sh.AdjacentParentShardID} {
			if p != "" {
				children[p] = append(children[p], sh.ShardID)
			}
		}
	}
	settle := b.settle()
	var window engine.Rate
	for _, sh := range b.shards {
		shs := engine.ShardSnapshot{Shard: sh, Index: shardIndex(sh.ShardID), Open: sh.Open(), Children: children[sh.ShardID]}
		if st := b.states[sh.ShardID]; st != nil {
			shs.Rate = st.rate(now, settle)
			shs.History = st.history(now, settle)
			shs.TotalRecordsIn = st.records
			shs.TotalReadThrottle = st.throttled
			for _, r := range shs.History[len(shs.History)-engine.CostWindow:] {
				window.RecordsIn += r.RecordsIn
				window.BytesIn += r.BytesIn
				window.BytesOut += r.BytesOut
			}
		}
		shs.WriteUtilisation = max(float64(shs.Rate.RecordsIn)/engine.ShardWriteRecordsPerSec, float64(shs.Rate.BytesIn)/engine.ShardWriteBytesPerSec)
		if shs.Open {
			ss.OpenShards++
		} else {
			ss.ClosedShards++
		}
		r := &ss.Rate
		r.BytesIn += shs.Rate.BytesIn
		r.RecordsIn += shs.Rate.RecordsIn
		r.BytesOut += shs.Rate.BytesOut
		r.RecordsOut += shs.Rate.RecordsOut
		r.ReadCalls += shs.Rate.ReadCalls
		r.ReadThrottled += shs.Rate.ReadThrottled
		ss.Shards = append(ss.Shards, shs)
	}
	sortShards(ss.Shards)
	if ss.OpenShards > 0 {
		u := engine.Utilisation{
			Records: float64(ss.Rate.RecordsIn) / (float64(ss.OpenShards) * engine.ShardWriteRecordsPerSec),
			Bytes:   float64(ss.Rate.BytesIn) / (float64(ss.OpenShards) * engine.ShardWriteBytesPerSec),
			By:      "records",
		}
		u.Max = u.Records
		if u.Bytes > u.Records {
			u.Max, u.By = u.Bytes, "bytes"
		}
		ss.Utilisation = u
	}
	active := 0
	for _, c := range b.consumers {
		ss.Consumers = append(ss.Consumers, engine.ConsumerSnapshot{Name: c.ConsumerName, ARN: c.ConsumerARN, Status: c.ConsumerStatus, Created: c.ConsumerCreationTimestamp})
		if c.ConsumerStatus == engine.ConsumerActive {
			active++
		}
	}
	secs := float64(engine.CostWindow)
	c := engine.EstimateCost(engine.Prices{}, ss.OpenShards, float64(window.RecordsIn)/secs, float64(window.BytesIn)/secs, float64(window.BytesOut)/secs, active)
	c.Basis = fmt.Sprintf("measured by this console over the last %d s, list prices: %s", engine.CostWindow, c.Basis)
	c.Current = ss.Mode
	c.CurrentHourly, c.CurrentMonthly = c.ProvisionedHourly, c.ProvisionedMonthly
	if ss.Mode == engine.ModeOnDemand {
		c.CurrentHourly, c.CurrentMonthly = c.OnDemandHourly, c.OnDemandMonthly
	}
	ss.Cost = c
	snap.Streams = []engine.StreamSnapshot{ss}
	return snap
}

// DrainFeed hands the records read since the last call to the console.
func (b *Backend) DrainFeed(dst []engine.TapRecord) []engine.TapRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	dst = append(dst, b.feed...)
	b.feed = b.feed[:0]
	return dst
}

// FeedDropped counts records read but dropped before the console drew them.
func (b *Backend) FeedDropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Producers lists the synthetic producers (--allow-writes only).
func (b *Backend) Producers() []ui.ProducerView {
	if b.prods == nil {
		return nil
	}
	var out []ui.ProducerView
	for _, s := range b.prods.Stats() {
		out = append(out, ui.ProducerView{
			Name: s.Name, On: s.On, Rate: s.Rate, ActualRate: s.ActualRate, Skew: s.Skew,
			Sent: int64(s.Sent), Throttled: int64(s.Throttled), Retried: int64(s.Retried), GivenUp: int64(s.GivenUp),
			Errors: int64(s.Errors), Bursting: s.Bursting, Aggregating: s.Aggregating, LastError: s.LastError,
		})
	}
	return out
}

// Consumers shows the console's own reader as a consumer: its lag, its
// shards and its read budget.
func (b *Backend) Consumers() []ui.ConsumerView {
	b.mu.Lock()
	defer b.mu.Unlock()
	kind, name := ui.KindPolling, "shardscope attach"
	arn, _ := b.fanOutLocked()
	if arn != "" {
		kind, name = ui.KindFanOut, b.cfg.EFO
	}
	v := ui.ConsumerView{Name: name, Stream: b.cfg.Stream, Kind: kind, PerShardLag: map[string]time.Duration{}}
	var lag time.Duration
	now := time.Now()
	for _, sh := range b.shards {
		st := b.states[sh.ShardID]
		if st == nil || st.skipped {
			continue
		}
		v.Shards++
		l := time.Duration(st.lagMillis) * time.Millisecond
		cp := st.lastSeq
		switch {
		case st.done:
			v.ShardsDone++
			cp = "SHARD_END"
		case st.started && !st.lastRead.IsZero():
			v.ShardsDone++
			v.PerShardLag[sh.ShardID] = l
			lag = max(lag, l)
		}
		v.Records += st.records
		v.Throttled += st.throttled
		v.ReadThrottled += st.seen.get(now.Unix() - 1).readThrottled
		v.PerShard = append(v.PerShard, ui.ShardLagView{ShardID: sh.ShardID, Lag: l, Checkpoint: cp, Owner: "console"})
	}
	v.Lag = lag
	v.Summary = append(v.Summary, b.budgetLineLocked())
	if b.fallback != "" {
		v.Summary = append(v.Summary, "no enhanced fan-out on this endpoint: polling")
	}
	out := []ui.ConsumerView{v}
	if kv, ok := b.leaseViewLocked(); ok {
		out = append(out, kv)
	}
	return out
}

// budgetLineLocked says how hard the console reads: "1 read/s per shard ·
// 20 % of 5 reads/s", or the fan-out consumer it reads through.
func (b *Backend) budgetLineLocked() string {
	if arn, _ := b.fanOutLocked(); arn != "" {
		return "fan-out via " + b.cfg.EFO + ": own 2 MiB/s per shard, $0.015 per consumer-shard-hour"
	}
	r := b.readsPerSecond()
	return fmt.Sprintf("GetRecords %s/s per shard · %.0f %% of %d reads/s", trimFloat(r), 100*r/ShardReadsPerSecond, ShardReadsPerSecond)
}

// Attachment tells the header where the console is attached and how it
// reads.
func (b *Backend) Attachment() ui.Attachment {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := ui.Attachment{Where: b.where(), Reads: b.budgetLineLocked(), Writes: b.c.AllowsWrites()}
	if e := b.sum.EncryptionType; e != "" && e != "NONE" {
		a.Encryption = e
	}
	if a.Writes {
		a.WritesNote = fmt.Sprintf("producers ≤ %s rec/s ≈ $%.4f/h", trimFloat(b.cfg.MaxRate), putCostPerHour(b.cfg.MaxRate))
	}
	if arn, _ := b.fanOutLocked(); arn != "" {
		a.ReadsShort = "fan-out " + b.cfg.EFO
	} else {
		r := b.readsPerSecond()
		a.ReadsShort = fmt.Sprintf("%.0f %% of %d reads/s", 100*r/ShardReadsPerSecond, ShardReadsPerSecond)
	}
	if b.lost != "" {
		a.Lost = fmt.Sprintf("connection lost %s ago", time.Since(b.lostSince).Round(time.Second))
	}
	if b.missing != "" {
		a.Problem = b.missing
	} else if b.problem != "" && time.Since(b.problemAt) < 30*time.Second {
		a.Problem = b.problem
	}
	return a
}
