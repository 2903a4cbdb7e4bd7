package producers

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// aggGroup gathers the user records bound for one shard (or one partition
// key) into an aggregate.
type aggGroup struct {
	agg   *Aggregator
	shard string
	parts []pending
}

// aggregateQueue packs the queued user records into aggregates, one group
// per predicted shard, keeping the order within a group. Aggregates and
// retried records already in the queue stay as they are; a group of one
// record is sent as a plain record, as the KPL does.
func (p *Producer) aggregateQueue(ctx context.Context, now time.Time) {
	p.refreshShardMap(ctx, now)
	out := make([]pending, 0, len(p.queue))
	groups := make(map[string]*aggGroup)
	var order []string
	emit := func(g *aggGroup) {
		switch len(g.parts) {
		case 0:
		case 1:
			out = append(out, g.parts[0])
			g.agg.Reset()
		default:
			e, _ := g.agg.Build()
			out = append(out, pending{key: e.PartitionKey, ehk: e.ExplicitHashKey, data: e.Data, parts: g.parts, shard: g.shard})
		}
		g.parts = nil
	}
	for _, rec := range p.queue {
		if rec.parts != nil || rec.attempts > 0 {
			out = append(out, rec)
			continue
		}
		gk, shard := p.groupOf(rec.key)
		g := groups[gk]
		if g == nil {
			g = &aggGroup{agg: NewAggregator(p.cfg.AggregateMaxBytes), shard: shard}
			groups[gk] = g
			order = append(order, gk)
		}
		ur := UserRecord{PartitionKey: rec.key, ExplicitHashKey: rec.ehk, Data: rec.data}
		err := g.agg.Add(ur)
		if errors.Is(err, ErrAggregateFull) {
			emit(g)
			err = g.agg.Add(ur)
		}
		if err != nil {
			out = append(out, rec) // too large to aggregate: send it plain
			continue
		}
		g.parts = append(g.parts, rec)
	}
	for _, gk := range order {
		emit(groups[gk])
	}
	clear(p.queue)
	p.queue = out
}

// groupOf returns the aggregation group of a partition key and the shard
// predicted for it ("" without a shard map: the group is the key itself).
func (p *Producer) groupOf(key string) (group, shard string) {
	if sh, ok := p.shardFor(engine.HashPartitionKey(key)); ok {
		return sh.ShardID, sh.ShardID
	}
	return "key:" + key, ""
}

// shardFor finds the open shard of the map whose range holds h.
func (p *Producer) shardFor(h engine.HashKey) (engine.Shard, bool) {
	m := p.shardMap
	i := sort.Search(len(m), func(i int) bool { return m[i].HashKeyRange.End.Cmp(h) >= 0 })
	if i == len(m) || !m[i].HashKeyRange.Contains(h) {
		return engine.Shard{}, false
	}
	return m[i], true
}

// refreshShardMap lists the open shards when the map is stale or older
// than ShardMapRefresh.
func (p *Producer) refreshShardMap(ctx context.Context, now time.Time) {
	if !p.shardMapStale && !p.shardMapAt.IsZero() && now.Sub(p.shardMapAt) < p.cfg.ShardMapRefresh {
		return
	}
	p.shardMapAt, p.shardMapStale = now, false
	shards, err := listShards(ctx, p.sink, p.stream)
	if err != nil {
		p.shardMap = nil
		p.mu.Lock()
		p.st.LastError = "aggregation shard map: " + err.Error()
		p.mu.Unlock()
		return
	}
	open := shards[:0]
	for _, s := range shards {
		if s.Open() && s.HashKeyRange != (engine.HashKeyRange{}) {
			open = append(open, s)
		}
	}
	sort.Slice(open, func(i, j int) bool { return open[i].HashKeyRange.Start.Cmp(open[j].HashKeyRange.Start) < 0 })
	p.shardMap = open
}

// misrouted reports whether an acknowledged aggregate landed in another
// shard than predicted with user records outside that shard's range (which
// a consumer drops). A surprise refreshes the shard map.
func (p *Producer) misrouted(ctx context.Context, now time.Time, rec *pending, shardID string) bool {
	if rec.parts == nil || rec.shard == "" || shardID == "" || shardID == rec.shard {
		return false
	}
	if !p.shardMapAt.Equal(now) {
		p.shardMapStale = true
		p.refreshShardMap(ctx, now)
	}
	var rng engine.HashKeyRange
	found := false
	for _, s := range p.shardMap {
		if s.ShardID == shardID {
			rng, found = s.HashKeyRange, true
			break
		}
	}
	if !found {
		return true // cannot tell: send again (at least once)
	}
	for _, part := range rec.parts {
		h := engine.HashPartitionKey(part.key)
		if part.ehk != "" {
			h, _ = engine.ParseHashKey(part.ehk)
		}
		if !rng.Contains(h) {
			return true
		}
	}
	return false
}
