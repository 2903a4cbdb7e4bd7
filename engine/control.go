package engine

import (
	"context"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// CreateStream creates a stream with its shards splitting the key space evenly.
func (e *Engine) CreateStream(ctx context.Context, in CreateStreamInput) error {
	v := newValidator(ctx, "shardCount", "streamName", "streamModeDetails", "tags")
	if v.required(in.StreamName != "", "streamName") {
		v.streamName(in.StreamName, "streamName")
	}
	mode := in.Mode
	if mode == "" {
		mode = ModeProvisioned
	}
	if mode != ModeProvisioned && mode != ModeOnDemand {
		v.add(string(mode), "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	}
	if mode == ModeProvisioned || in.ShardCount != 0 {
		v.intRange(in.ShardCount, "shardCount", 1, 100000)
	}
	checkCreateSettings(&v, in)
	if err := v.err(); err != nil {
		return err
	}
	if err := checkTags(in.Tags, 0); err != nil {
		return err
	}
	count := in.ShardCount
	if mode == ModeOnDemand {
		count = max(OnDemandInitialShards, warmShards(in.WarmThroughputMiBps))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	if s := e.streams[in.StreamName]; s != nil {
		if !e.gone(s) {
			return newError(ResourceInUseException, "Stream %s under account %s already exists.", in.StreamName, e.opts.AccountID)
		}
		e.purge(s)
	}
	if err := e.checkWarmAtCreate(in, mode, now); err != nil {
		return err
	}
	if err := e.checkShardQuota(count); err != nil {
		return err
	}
	creating, onDemand := 0, 0
	for _, s := range e.streams {
		if e.gone(s) {
			continue
		}
		if s.status(now) == StatusCreating {
			creating++
		}
		if s.mode == ModeOnDemand {
			onDemand++
		}
	}
	if creating >= 5 {
		return newError(LimitExceededException, "The number of streams in CREATING state is limited to 5 per account.")
	}
	if mode == ModeOnDemand && onDemand >= OnDemandStreamLimit {
		return newError(LimitExceededException, "This request would exceed the limit of %d on-demand streams for account %s.", OnDemandStreamLimit, e.opts.AccountID)
	}
	s := &stream{name: in.StreamName, created: now, mode: mode, retention: MinRetentionHours, tags: map[string]string{}, readyAt: now.Add(e.opts.CreateDelay),
		maxRecordKiB: in.MaxRecordSizeInKiB, warmMiBps: in.WarmThroughputMiBps}
	s.enc.chain = newKeyChain()
	for k, val := range in.Tags {
		s.tags[k] = val
	}
	for i, r := range evenRanges(count) {
		sh := e.newShard(s.name, uint32(i), r, "", "", now)
		sh.initial = true
		s.shards = append(s.shards, sh)
	}
	s.nextShardIndex = uint32(count)
	if err := e.saveStream(s); err != nil {
		return err
	}
	e.streams[s.name] = s
	e.event(EventStream, s.name, "", "created stream %s: %d shards, %s", s.name, count, mode)
	return nil
}

// checkShardQuota refuses a change that would take the account's open
// shards past the quota. e.mu is held.
func (e *Engine) checkShardQuota(extra int) error {
	if extra <= 0 {
		return nil
	}
	open := e.openShardCount()
	if open+extra > e.opts.ShardLimit {
		return newError(LimitExceededException, "This request would exceed the shard limit for the account %s in %s. Current limit of shards is %d. Number of additional shards that would have resulted in exceeding the shard limit is %d. Contact AWS Support to increase the shard limit.",
			e.opts.AccountID, e.opts.Region, e.opts.ShardLimit, open+extra-e.opts.ShardLimit)
	}
	return nil
}

func (e *Engine) openShardCount() int {
	n := 0
	for _, s := range e.streams {
		if e.gone(s) {
			continue
		}
		for _, sh := range s.shards {
			if !sh.isClosed() {
				n++
			}
		}
	}
	return n
}

// DeleteStream deletes a stream, its shards and its records.
func (e *Engine) DeleteStream(ctx context.Context, in DeleteStreamInput) error {
	v := newValidator(ctx, "streamName", "streamARN")
	v.ref(in.StreamRef)
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.lookup(in.StreamRef)
	if err != nil {
		return err
	}
	if s.deleting {
		return newError(ResourceInUseException, "Stream %s under account %s is already being deleted.", s.name, e.opts.AccountID)
	}
	if err := e.consumersBlockDelete(s, in.EnforceConsumerDeletion); err != nil {
		return err
	}
	s.deleting = true
	s.deleteAt = e.clock.Now().Add(e.opts.DeleteDelay)
	e.event(EventStream, s.name, "", "deleting stream %s", s.name)
	if e.opts.DeleteDelay <= 0 {
		e.purge(s)
		return nil
	}
	return e.saveStream(s)
}

// purge removes a stream and its data now. e.mu is held.
func (e *Engine) purge(s *stream) {
	delete(e.streams, s.name)
	for _, sh := range s.shards {
		sh.closeSubscriptions()
	}
	if err := e.db.DeleteMeta(streamsBucket, s.name); err != nil {
		e.event(EventError, s.name, "", "deleting stream metadata: %v", err)
	}
	if err := e.db.DropStream(s.name); err != nil {
		e.event(EventError, s.name, "", "deleting stream records: %v", err)
	}
}

// DescribeStream describes a stream and a page of its shards.
func (e *Engine) DescribeStream(ctx context.Context, in DescribeStreamInput) (StreamDescription, error) {
	v := newValidator(ctx, "limit", "exclusiveStartShardId", "streamName", "streamARN")
	v.ref(in.StreamRef)
	if in.Limit != 0 {
		v.intRange(in.Limit, "limit", 1, 10000)
	}
	v.shardID(in.ExclusiveStartShardID, "exclusiveStartShardId", false)
	if err := v.err(); err != nil {
		return StreamDescription{}, err
	}
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.lookup(in.StreamRef)
	if err != nil {
		return StreamDescription{}, err
	}
	limit := in.Limit
	if limit == 0 || limit > 100 {
		limit = 100
	}
	encType, keyID := s.encryption()
	out := StreamDescription{
		StreamName: s.name, StreamARN: e.arn(s.name), StreamStatus: s.status(e.clock.Now()), StreamMode: s.mode,
		RetentionPeriodHours: s.retention, StreamCreation: s.created, EncryptionType: encType, KeyID: keyID,
		EnhancedMonitoring: nonNil(slices.Clone(s.metrics)),
	}
	after, err := e.startAfter(s, in.ExclusiveStartShardID)
	if err != nil {
		return StreamDescription{}, err
	}
	if out.StreamStatus == StatusCreating || out.StreamStatus == StatusDeleting {
		return out, nil // the service lists no shards until the stream exists, nor once it is going
	}
	for _, sh := range s.shards {
		if int64(sh.index) <= after {
			continue
		}
		if len(out.Shards) == limit {
			out.HasMoreShards = true
			break
		}
		out.Shards = append(out.Shards, sh.describe())
	}
	return out, nil
}

// DescribeStreamSummary describes a stream without its shards.
func (e *Engine) DescribeStreamSummary(ctx context.Context, ref StreamRef) (StreamSummary, error) {
	v := newValidator(ctx, "streamName", "streamARN")
	v.ref(ref)
	if err := v.err(); err != nil {
		return StreamSummary{}, err
	}
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.lookup(ref)
	if err != nil {
		return StreamSummary{}, err
	}
	open := 0
	for _, sh := range s.shards {
		if !sh.isClosed() {
			open++
		}
	}
	encType, keyID := s.encryption()
	return StreamSummary{
		StreamName: s.name, StreamARN: e.arn(s.name), StreamStatus: s.status(e.clock.Now()), StreamMode: s.mode,
		RetentionPeriodHours: s.retention, StreamCreation: s.created, EncryptionType: encType, KeyID: keyID,
		OpenShardCount: open, ConsumerCount: e.consumerCount(s), MaxRecordSizeInKiB: s.recordSizeKiB(),
		EnhancedMonitoring: nonNil(slices.Clone(s.metrics)), WarmThroughput: s.warmThroughput(),
	}, nil
}

// ListStreams lists stream names in order, a page at a time.
func (e *Engine) ListStreams(ctx context.Context, in ListStreamsInput) (ListStreamsOutput, error) {
	v := newValidator(ctx, "limit", "exclusiveStartStreamName", "nextToken")
	if in.Limit != 0 {
		v.intRange(in.Limit, "limit", 1, 10000)
	}
	v.streamName(in.ExclusiveStartStreamName, "exclusiveStartStreamName")
	if err := v.err(); err != nil {
		return ListStreamsOutput{}, err
	}
	now := e.clock.Now()
	after := in.ExclusiveStartStreamName
	if in.NextToken != "" {
		p, ok := e.signer.decodePage(in.NextToken, 'l')
		if !ok {
			return ListStreamsOutput{}, newError(InvalidArgumentException, "Invalid NextToken.")
		}
		if now.Sub(fromMs(p.issuedMs)) > IteratorTTL {
			return ListStreamsOutput{}, newError(ExpiredNextTokenException, "The NextToken has expired.")
		}
		after = p.after
	}
	limit := in.Limit
	if limit == 0 || limit > 100 {
		limit = 100
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.streams))
	for name, s := range e.streams {
		if !e.gone(s) && name > after {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out ListStreamsOutput
	if len(names) > limit {
		names = names[:limit]
		out.HasMoreStreams = true
	}
	for _, name := range names {
		s := e.streams[name]
		out.Streams = append(out.Streams, StreamListEntry{StreamName: name, StreamARN: e.arn(name), StreamStatus: s.status(now), StreamMode: s.mode, StreamCreation: s.created})
	}
	if out.HasMoreStreams {
		out.NextToken = e.signer.encodePage(pageToken{kind: 'l', after: names[len(names)-1], issuedMs: now.UnixMilli()})
	}
	return out, nil
}

// ListShards lists a stream's unexpired shards with the service's filters and paging.
func (e *Engine) ListShards(ctx context.Context, in ListShardsInput) (ListShardsOutput, error) {
	v := newValidator(ctx, "exclusiveStartShardId", "maxResults", "nextToken", "streamCreationTimestamp", "streamName", "shardFilter", "streamARN")
	v.ref(in.StreamRef)
	if in.MaxResults != 0 {
		v.intRange(in.MaxResults, "maxResults", 1, 10000)
	}
	v.shardID(in.ExclusiveStartShardID, "exclusiveStartShardId", false)
	if f := in.Filter; f != nil {
		switch f.Type {
		case FilterAfterShardID, FilterAtTrimHorizon, FilterFromTrimHorizon, FilterAtLatest, FilterAtTimestamp, FilterFromTimestamp:
		default:
			v.add(string(f.Type), "shardFilter.type", "Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]")
		}
		v.shardID(f.ShardID, "shardFilter.shardId", false)
	}
	if err := v.err(); err != nil {
		return ListShardsOutput{}, err
	}
	now := e.clock.Now()
	ref := in.StreamRef
	after := in.ExclusiveStartShardID
	filter := in.Filter
	if in.NextToken != "" {
		if in.StreamName != "" || in.ExclusiveStartShardID != "" || !in.StreamCreationTimestamp.IsZero() {
			return ListShardsOutput{}, newError(InvalidArgumentException, "NextToken and StreamName, ExclusiveStartShardId or StreamCreationTimestamp cannot be provided together.")
		}
		p, ok := e.signer.decodePage(in.NextToken, 's')
		if !ok {
			return ListShardsOutput{}, newError(InvalidArgumentException, "Invalid NextToken.")
		}
		if now.Sub(fromMs(p.issuedMs)) > IteratorTTL {
			return ListShardsOutput{}, newError(ExpiredNextTokenException, "The NextToken has expired.")
		}
		if in.StreamARN != "" {
			if name, err := e.resolveName(StreamRef{StreamARN: in.StreamARN}); err != nil || name != p.stream {
				return ListShardsOutput{}, newError(InvalidArgumentException, "NextToken was issued for another stream.")
			}
		}
		ref = StreamRef{StreamName: p.stream}
		after = p.after
		filter = nil // the first call's filter was applied through the token's position
	}
	limit := in.MaxResults
	if limit == 0 || limit > 1000 {
		limit = 1000
	}
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.lookup(ref)
	if err != nil {
		return ListShardsOutput{}, err
	}
	if in.NextToken != "" {
		p, _ := e.signer.decodePage(in.NextToken, 's')
		if p.created != s.created.UnixMilli() {
			return ListShardsOutput{}, newError(ExpiredNextTokenException, "The NextToken was issued for a stream that no longer exists.")
		}
	}
	if !in.StreamCreationTimestamp.IsZero() && !in.StreamCreationTimestamp.Equal(s.created) && in.StreamCreationTimestamp.UnixMilli() != s.created.UnixMilli() {
		return ListShardsOutput{}, e.notFound(s.name)
	}
	keep, err := e.shardFilter(s, filter, now)
	if err != nil {
		return ListShardsOutput{}, err
	}
	afterIdx, err := e.startAfter(s, after)
	if err != nil {
		return ListShardsOutput{}, err
	}
	var out ListShardsOutput
	var last string
	for _, sh := range s.shards {
		if int64(sh.index) <= afterIdx {
			continue
		}
		if !keep(sh) {
			continue
		}
		if len(out.Shards) == limit {
			out.NextToken = e.signer.encodePage(pageToken{kind: 's', stream: s.name, created: s.created.UnixMilli(), after: last, issuedMs: now.UnixMilli()})
			break
		}
		out.Shards = append(out.Shards, sh.describe())
		last = sh.id
	}
	return out, nil
}

// startAfter reads an ExclusiveStartShardId: the index listing starts
// after, -1 when none is given. Any id the service accepts will do, and it
// need not name an existing shard; an id without a shard number is not found.
func (e *Engine) startAfter(s *stream, id string) (int64, error) {
	if id == "" {
		return -1, nil
	}
	idx, ok := ParseShardID(id)
	if !ok {
		return 0, e.shardNotFound(s.name, id)
	}
	return int64(idx), nil
}

func (e *Engine) shardFilter(s *stream, f *ShardFilter, now time.Time) (func(*shard) bool, error) {
	all := func(*shard) bool { return true }
	if f == nil {
		return all, nil
	}
	horizon := now.Add(-time.Duration(s.retention) * time.Hour)
	coversAt := func(t time.Time) func(*shard) bool {
		return func(sh *shard) bool {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			started := sh.initial || !sh.created.After(t)
			return started && (!sh.closed || !sh.closedAt.Before(t))
		}
	}
	switch f.Type {
	case FilterFromTrimHorizon:
		return all, nil
	case FilterAfterShardID:
		if f.ShardID == "" {
			return nil, newError(InvalidArgumentException, "ShardId must be provided for AFTER_SHARD_ID filter type.")
		}
		idx, ok := ParseShardID(f.ShardID)
		if !ok {
			return nil, e.shardNotFound(s.name, f.ShardID)
		}
		return func(sh *shard) bool { return sh.index > idx }, nil
	case FilterAtLatest:
		return func(sh *shard) bool { return !sh.isClosed() }, nil
	case FilterAtTrimHorizon:
		return coversAt(horizon), nil
	case FilterAtTimestamp, FilterFromTimestamp:
		if f.Timestamp.IsZero() {
			return nil, newError(InvalidArgumentException, "Timestamp must be provided for %s filter type.", f.Type)
		}
		if f.Type == FilterAtTimestamp {
			return coversAt(f.Timestamp), nil
		}
		t := f.Timestamp
		if t.Before(horizon) {
			t = horizon
		}
		return func(sh *shard) bool {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			return !sh.closed || !sh.closedAt.Before(t)
		}, nil
	}
	return all, nil
}

// IncreaseStreamRetentionPeriod lengthens how long records are kept.
func (e *Engine) IncreaseStreamRetentionPeriod(ctx context.Context, in RetentionInput) error {
	return e.changeRetention(ctx, in, true)
}

// DecreaseStreamRetentionPeriod shortens how long records are kept; older
// records become unreadable at once.
func (e *Engine) DecreaseStreamRetentionPeriod(ctx context.Context, in RetentionInput) error {
	return e.changeRetention(ctx, in, false)
}

func (e *Engine) changeRetention(ctx context.Context, in RetentionInput, increase bool) error {
	v := newValidator(ctx, "retentionPeriodHours", "streamName", "streamARN")
	v.ref(in.StreamRef)
	v.intRange(in.RetentionPeriodHours, "retentionPeriodHours", 1, 1<<31-1)
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return err
	}
	h := in.RetentionPeriodHours
	switch {
	case h < MinRetentionHours:
		return newError(InvalidArgumentException, "Minimum allowed retention period is %d hours. Requested retention period (%d hours) is too short.", MinRetentionHours, h)
	case h > MaxRetentionHours:
		return newError(InvalidArgumentException, "Maximum allowed retention period is %d hours. Requested retention period (%d hours) is too long.", MaxRetentionHours, h)
	case increase && h < s.retention:
		return newError(InvalidArgumentException, "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, s.name, s.retention)
	case !increase && h > s.retention:
		return newError(InvalidArgumentException, "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, s.name, s.retention)
	}
	old := s.retention
	s.retention = h
	if err := e.saveStream(s); err != nil {
		s.retention = old
		return err
	}
	e.event(EventRetention, s.name, "", "retention of %s changed from %dh to %dh", s.name, old, h)
	return nil
}

// UpdateStreamMode switches a stream between PROVISIONED and ON_DEMAND,
// at most twice in a rolling 24 hours.
func (e *Engine) UpdateStreamMode(ctx context.Context, in UpdateStreamModeInput) error {
	v := newValidator(ctx, "streamARN", "streamModeDetails")
	if v.required(in.StreamARN != "", "streamARN") {
		v.streamARN(in.StreamARN)
	}
	if in.Mode != ModeProvisioned && in.Mode != ModeOnDemand {
		v.add(string(in.Mode), "streamModeDetails.streamMode", "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")
	}
	v.intRange(in.WarmThroughputMiBps, "warmThroughputMiBps", 0, 1<<31-1)
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(StreamRef{StreamARN: in.StreamARN})
	if err != nil {
		return err
	}
	if s.mode == in.Mode {
		return newError(InvalidArgumentException, "Stream %s under account %s is already in %s mode.", s.name, e.opts.AccountID, in.Mode)
	}
	now := e.clock.Now()
	if in.WarmThroughputMiBps != 0 {
		if err := e.checkWarm(s.name, in.Mode, in.WarmThroughputMiBps, now); err != nil {
			return err
		}
		if err := e.checkShardQuota(warmShards(in.WarmThroughputMiBps) - len(s.openShards())); err != nil {
			return err
		}
	}
	s.modeSwitches = recent(s.modeSwitches, now)
	if len(s.modeSwitches) >= 2 {
		return newError(LimitExceededException, "Stream %s under account %s has already switched capacity mode twice in the last 24 hours.", s.name, e.opts.AccountID)
	}
	if in.Mode == ModeOnDemand {
		n := 0
		for _, o := range e.streams {
			if !e.gone(o) && o.mode == ModeOnDemand {
				n++
			}
		}
		if n >= OnDemandStreamLimit {
			return newError(LimitExceededException, "This request would exceed the limit of %d on-demand streams for account %s.", OnDemandStreamLimit, e.opts.AccountID)
		}
	}
	old, oldWarm := s.mode, s.warmMiBps
	s.mode = in.Mode
	s.warmMiBps = in.WarmThroughputMiBps // 0 on PROVISIONED: warm throughput is an ON_DEMAND setting
	e.warmUp(s, now)
	s.modeSwitches = append(s.modeSwitches, now)
	s.updatingUntil = now.Add(e.opts.UpdateDelay)
	if err := e.saveStream(s); err != nil {
		s.mode, s.warmMiBps = old, oldWarm
		return err
	}
	e.event(EventMode, s.name, "", "capacity mode of %s changed from %s to %s", s.name, old, in.Mode)
	return nil
}

// recent keeps the times within the last 24 hours.
func recent(ts []time.Time, now time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if now.Sub(t) < 24*time.Hour {
			out = append(out, t)
		}
	}
	return out
}

// AddTagsToStream adds or overwrites tags. Lengths are model constraints,
// checked before the stream is looked up (ValidationException); characters
// are checked after it (InvalidArgumentException), as the service does.
func (e *Engine) AddTagsToStream(ctx context.Context, in AddTagsInput) error {
	v := newValidator(ctx, "tags", "streamName", "streamARN")
	v.ref(in.StreamRef)
	if v.required(len(in.Tags) > 0, "tags") {
		v.tagMap(in.Tags, "tags")
	}
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return err
	}
	for k, val := range in.Tags {
		if !validTagText(k) || !validTagText(val) {
			return errTagChars()
		}
	}
	added := 0
	for k := range in.Tags {
		if _, ok := s.tags[k]; !ok {
			added++
		}
	}
	if len(s.tags)+added > 50 {
		return newError(InvalidArgumentException, "Failed to add tags to stream %s under account %s because a given stream cannot have more than 50 tags associated with it.", s.name, e.opts.AccountID)
	}
	for k, val := range in.Tags {
		s.tags[k] = val
	}
	return e.saveStream(s)
}

// RemoveTagsFromStream removes tags; unknown keys are ignored.
func (e *Engine) RemoveTagsFromStream(ctx context.Context, in RemoveTagsInput) error {
	v := newValidator(ctx, "tagKeys", "streamName", "streamARN")
	v.ref(in.StreamRef)
	v.required(len(in.TagKeys) > 0, "tagKeys")
	if len(in.TagKeys) > 50 {
		v.add(len(in.TagKeys), "tagKeys", "Member must have length less than or equal to 50")
	}
	for i, k := range in.TagKeys {
		v.length(k, "tagKeys."+strconv.Itoa(i+1)+".member", 1, 128)
	}
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return err
	}
	if err := checkTagKeys(in.TagKeys); err != nil {
		return err
	}
	for _, k := range in.TagKeys {
		delete(s.tags, k)
	}
	return e.saveStream(s)
}

// ListTagsForStream lists tags sorted by key, a page at a time.
func (e *Engine) ListTagsForStream(ctx context.Context, in ListTagsInput) (ListTagsOutput, error) {
	v := newValidator(ctx, "limit", "exclusiveStartTagKey", "streamName", "streamARN")
	v.ref(in.StreamRef)
	if in.Limit != 0 {
		v.intRange(in.Limit, "limit", 1, 50)
	}
	if in.ExclusiveStartTagKey != "" {
		v.length(in.ExclusiveStartTagKey, "exclusiveStartTagKey", 1, 128)
	}
	if err := v.err(); err != nil {
		return ListTagsOutput{}, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.lookup(in.StreamRef)
	if err != nil {
		return ListTagsOutput{}, err
	}
	limit := in.Limit
	if limit == 0 {
		limit = 50
	}
	keys := make([]string, 0, len(s.tags))
	for k := range s.tags {
		if k > in.ExclusiveStartTagKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out ListTagsOutput
	if len(keys) > limit {
		keys = keys[:limit]
		out.HasMoreTags = true
	}
	for _, k := range keys {
		out.Tags = append(out.Tags, Tag{Key: k, Value: s.tags[k]})
	}
	return out, nil
}

// checkTags validates the tags a resource is created with; existing is
// how many it has already.
func checkTags(tags map[string]string, existing int) error {
	var v validator
	v.tagMap(tags, "tags")
	if err := v.err(); err != nil {
		return err
	}
	if existing+len(tags) > 50 {
		return newError(InvalidArgumentException, "A stream cannot have more than 50 tags associated with it.")
	}
	for k, val := range tags {
		if !validTagText(k) || !validTagText(val) {
			return errTagChars()
		}
	}
	return nil
}

// checkTagKeys refuses tag keys with characters the service does not
// allow; both removing calls (RemoveTagsFromStream, UntagResource) use it.
func checkTagKeys(keys []string) error {
	for _, k := range keys {
		if !validTagText(k) {
			return errTagChars()
		}
	}
	return nil
}

func errTagChars() *Error {
	return newError(InvalidArgumentException, "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @.")
}

// validTagText reports whether a tag key or value uses only the characters
// the service allows: Unicode letters and digits, the space (no other white
// space) and _ . / = + - % @.
func validTagText(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" _./=+-%@", r) {
			continue
		}
		return false
	}
	return true
}

// DescribeLimits reports the account's shard quota and usage.
func (e *Engine) DescribeLimits(ctx context.Context) (Limits, error) {
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	onDemand := 0
	for _, s := range e.streams {
		if !e.gone(s) && s.mode == ModeOnDemand {
			onDemand++
		}
	}
	return Limits{ShardLimit: e.opts.ShardLimit, OpenShardCount: e.openShardCount(), OnDemandStreamCount: onDemand, OnDemandStreamCountLimit: OnDemandStreamLimit}, nil
}
