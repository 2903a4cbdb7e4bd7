package engine

import (
	"context"
	"math/big"
	"sort"
	"strconv"
	"time"
)

// SplitShard closes an open shard and creates two children dividing its
// range at NewStartingHashKey.
func (e *Engine) SplitShard(ctx context.Context, in SplitShardInput) error {
	v := newValidator(ctx, "newStartingHashKey", "streamName", "shardToSplit", "streamARN")
	v.ref(in.StreamRef)
	v.shardID(in.ShardToSplit, "shardToSplit", true)
	if v.required(in.NewStartingHashKey != "", "newStartingHashKey") && !hashKeyPattern.MatchString(in.NewStartingHashKey) {
		v.add(in.NewStartingHashKey, "newStartingHashKey", "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
	}
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, sh, err := e.reshardTarget(in.StreamRef, in.ShardToSplit)
	if err != nil {
		return err
	}
	at, ok := ParseHashKey(in.NewStartingHashKey)
	if !ok || at.Cmp(sh.rng.Start.Add(1)) <= 0 || at.Cmp(sh.rng.End) >= 0 {
		return newError(InvalidArgumentException, "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			in.NewStartingHashKey, sh.id, s.name, e.opts.AccountID, sh.rng.Start, sh.rng.End)
	}
	if err := e.checkShardQuota(1); err != nil {
		return err
	}
	e.deferReshard(s, reshardOp{Kind: "split", Shard: sh.index, Key: at.String()}, e.clock.Now())
	return e.saveStream(s)
}

// split closes sh and adds its two children. e.mu is held.
func (e *Engine) split(s *stream, sh *shard, at HashKey, now time.Time) (low, high *shard) {
	e.closeShard(sh, now)
	low = e.addChild(s, HashKeyRange{Start: sh.rng.Start, End: at.Sub(1)}, sh.id, "", now)
	high = e.addChild(s, HashKeyRange{Start: at, End: sh.rng.End}, sh.id, "", now)
	return low, high
}

// MergeShards closes two adjacent open shards and creates one child
// covering both ranges.
func (e *Engine) MergeShards(ctx context.Context, in MergeShardsInput) error {
	v := newValidator(ctx, "shardToMerge", "adjacentShardToMerge", "streamName", "streamARN")
	v.ref(in.StreamRef)
	v.shardID(in.ShardToMerge, "shardToMerge", true)
	v.shardID(in.AdjacentShardToMerge, "adjacentShardToMerge", true)
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, a, err := e.reshardTarget(in.StreamRef, in.ShardToMerge)
	if err != nil {
		return err
	}
	b := s.shardByID(in.AdjacentShardToMerge)
	if b == nil {
		return e.shardNotFound(s.name, in.AdjacentShardToMerge)
	}
	if b.isClosed() {
		return newError(ResourceInUseException, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging.", b.id, s.name, e.opts.AccountID)
	}
	// The service wants ShardToMerge first in key order.
	if !adjacent(a.rng, b.rng) {
		return newError(InvalidArgumentException, "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", a.id, b.id, s.name, e.opts.AccountID)
	}
	e.deferReshard(s, reshardOp{Kind: "merge", Shard: a.index, Adjacent: b.index}, e.clock.Now())
	return e.saveStream(s)
}

// adjacent reports whether hi starts right after lo ends.
func adjacent(lo, hi HashKeyRange) bool {
	return lo.End != MaxHashKey && lo.End.Add(1) == hi.Start
}

// merge closes a and b and adds their child; a is recorded as the parent,
// b as the adjacent parent. e.mu is held.
func (e *Engine) merge(s *stream, a, b *shard, now time.Time) *shard {
	e.closeShard(a, now)
	e.closeShard(b, now)
	rng := HashKeyRange{Start: a.rng.Start, End: b.rng.End}
	if b.rng.Start.Cmp(a.rng.Start) < 0 {
		rng = HashKeyRange{Start: b.rng.Start, End: a.rng.End}
	}
	return e.addChild(s, rng, a.id, b.id, now)
}

// reshardTarget finds an ACTIVE provisioned stream and one of its open shards.
func (e *Engine) reshardTarget(ref StreamRef, id string) (*stream, *shard, error) {
	e.applyDue(e.clock.Now())
	s, err := e.forChange(ref)
	if err != nil {
		return nil, nil, err
	}
	if s.mode == ModeOnDemand {
		return nil, nil, newError(ValidationException, "This operation is not permitted on streams in ON_DEMAND mode.")
	}
	sh := s.shardByID(id)
	if sh == nil {
		return nil, nil, e.shardNotFound(s.name, id)
	}
	if sh.isClosed() {
		return nil, nil, newError(ResourceInUseException, "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", sh.id, s.name, e.opts.AccountID)
	}
	return s, sh, nil
}

// closeShard stops writes to a shard. Records already handed to storage
// keep their positions, so the ending sequence number covers them.
func (e *Engine) closeShard(sh *shard, now time.Time) {
	sh.mu.Lock()
	sh.closed = true
	sh.closedAt = now
	sh.endingPos = sh.nextPos - 1
	sh.mu.Unlock()
	sh.notify() // wake followers so they see the end
}

func (e *Engine) addChild(s *stream, rng HashKeyRange, parent, adjacent string, now time.Time) *shard {
	child := e.newShard(s.name, s.nextShardIndex, rng, parent, adjacent, now)
	s.nextShardIndex++
	s.shards = append(s.shards, child)
	return child
}

// UpdateShardCount scales a stream uniformly to TargetShardCount open shards
// of equal ranges, as the service does: by splitting shards at the new
// boundaries, then merging the pieces of each new range. Every shard made on
// the way has at most two parents, so lineage stays exact; the pieces that
// are merged away right after appear as closed, empty shards.
func (e *Engine) UpdateShardCount(ctx context.Context, in UpdateShardCountInput) (UpdateShardCountOutput, error) {
	v := newValidator(ctx, "scalingType", "streamName", "targetShardCount", "streamARN")
	v.ref(in.StreamRef)
	v.intRange(in.TargetShardCount, "targetShardCount", 1, 100000)
	if in.ScalingType != "" && in.ScalingType != "UNIFORM_SCALING" {
		v.add(in.ScalingType, "scalingType", "Member must satisfy enum value set: [UNIFORM_SCALING]")
	}
	v.required(in.ScalingType != "", "scalingType")
	if err := v.err(); err != nil {
		return UpdateShardCountOutput{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applyDue(e.clock.Now())
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return UpdateShardCountOutput{}, err
	}
	if s.mode == ModeOnDemand {
		return UpdateShardCountOutput{}, newError(ValidationException, "This operation is not permitted on streams in ON_DEMAND mode.")
	}
	open := s.openShards()
	cur, target := len(open), in.TargetShardCount
	now := e.clock.Now()
	s.scalings = recent(s.scalings, now)
	switch {
	case len(s.scalings) >= 10:
		return UpdateShardCountOutput{}, newError(LimitExceededException, "Stream %s under account %s has already been scaled 10 times in the last 24 hours.", s.name, e.opts.AccountID)
	case target > 2*cur:
		return UpdateShardCountOutput{}, newError(LimitExceededException, "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
	case 2*target < cur:
		return UpdateShardCountOutput{}, newError(LimitExceededException, "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
	case target > 10000:
		return UpdateShardCountOutput{}, newError(LimitExceededException, "UpdateShardCount cannot scale above 10000 shards per stream.")
	}
	if err := e.checkShardQuota(target - cur); err != nil {
		return UpdateShardCountOutput{}, err
	}
	e.deferReshard(s, reshardOp{Kind: "scale", Target: target}, now)
	s.scalings = append(s.scalings, now)
	if err := e.saveStream(s); err != nil {
		return UpdateShardCountOutput{}, err
	}
	return UpdateShardCountOutput{StreamName: s.name, StreamARN: e.arn(s.name), CurrentShardCount: cur, TargetShardCount: target}, nil
}

// reshape makes the open shards equal to want (sorted, covering the key
// space) with splits and merges. e.mu is held.
func (e *Engine) reshape(s *stream, want []HashKeyRange, now time.Time) {
	// Split wherever a wanted boundary falls strictly inside an open shard.
	for _, r := range want[1:] {
		for _, sh := range s.openShards() {
			if sh.rng.Start.Cmp(r.Start) < 0 && r.Start.Cmp(sh.rng.End) <= 0 {
				e.split(s, sh, r.Start, now)
				break
			}
		}
	}
	// Merge the pieces of each wanted range, left to right.
	for _, r := range want {
		var pieces []*shard
		for _, sh := range s.openShards() {
			if r.Start.Cmp(sh.rng.Start) <= 0 && sh.rng.End.Cmp(r.End) <= 0 {
				pieces = append(pieces, sh)
			}
		}
		sort.Slice(pieces, func(i, j int) bool { return pieces[i].rng.Start.Cmp(pieces[j].rng.Start) < 0 })
		for len(pieces) > 1 {
			child := e.merge(s, pieces[0], pieces[1], now)
			pieces = append([]*shard{child}, pieces[2:]...)
		}
	}
}

// MidpointKey returns the hash key that splits a shard's range in half, as
// a decimal string ready for SplitShard.
func MidpointKey(r HashKeyRange) string { return r.midpoint().String() }

// describeKey shows a hash key briefly: as a power-of-two fraction of the
// key space when it is one, else in decimal.
func describeKey(h HashKey) string {
	b := h.Big()
	if b.Sign() == 0 {
		return "0"
	}
	if b.BitLen() > 0 && new(big.Int).And(b, new(big.Int).Sub(b, big.NewInt(1))).Sign() == 0 {
		return "2^" + strconv.Itoa(b.BitLen()-1)
	}
	return h.String()
}
