package engine

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/shardscope/shardscope/storage"
)

// GetShardIterator returns an iterator positioned as the iterator type says.
func (e *Engine) GetShardIterator(ctx context.Context, in GetShardIteratorInput) (string, error) {
	v := newValidator(ctx, "shardId", "shardIteratorType", "startingSequenceNumber", "streamName", "timestamp", "streamARN")
	v.ref(in.StreamRef)
	v.shardID(in.ShardID, "shardId", true)
	if v.required(in.ShardIteratorType != "", "shardIteratorType") && !validIteratorType(in.ShardIteratorType) {
		v.add(string(in.ShardIteratorType), "shardIteratorType", "Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]")
	}
	if in.StartingSequenceNumber != "" && !seqPattern.MatchString(in.StartingSequenceNumber) {
		v.add(in.StartingSequenceNumber, "startingSequenceNumber", "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})")
	}
	if err := v.err(); err != nil {
		return "", err
	}
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.forData(in.StreamRef)
	if err != nil {
		return "", err
	}
	sh := s.shardByID(in.ShardID)
	if sh == nil {
		return "", e.shardNotFound(s.name, in.ShardID)
	}
	if err := checkIteratorArgs(in); err != nil {
		return "", err
	}
	now := e.clock.Now()
	if !e.opts.DisableLimits && !sh.iteratorCalls.AllowN(now, 1) {
		return "", newError(ProvisionedThroughputExceededException, "%s", e.throttleMessage(s, sh))
	}
	pos, err := e.position("GetShardIterator", s, sh, StartingPosition{Type: in.ShardIteratorType, SequenceNumber: in.StartingSequenceNumber, Timestamp: in.Timestamp}, now)
	if err != nil {
		return "", err
	}
	return e.signer.encodeIterator(iterator{stream: s.name, created: s.created.UnixMilli(), shard: sh.index, pos: pos, issuedMs: now.UnixMilli()}), nil
}

// checkIteratorArgs refuses the combinations of iterator type and
// StartingSequenceNumber the service refuses: a sequence number with
// TRIM_HORIZON or LATEST, none with AT/AFTER_SEQUENCE_NUMBER.
func checkIteratorArgs(in GetShardIteratorInput) error {
	const both = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
	switch in.ShardIteratorType {
	case TrimHorizon, Latest:
		if in.StartingSequenceNumber != "" {
			return newError(InvalidArgumentException, "%sRequest specified %s and also a StartingSequenceNumber.", both, in.ShardIteratorType)
		}
	case AtSequenceNumber, AfterSequenceNumber:
		if in.StartingSequenceNumber == "" {
			return newError(InvalidArgumentException, "%sRequest specified %s and no StartingSequenceNumber.", both, in.ShardIteratorType)
		}
	}
	return nil
}

func validIteratorType(t IteratorType) bool {
	switch t {
	case AtSequenceNumber, AfterSequenceNumber, TrimHorizon, Latest, AtTimestamp:
		return true
	}
	return false
}

// position turns a starting position into the next position to read.
// e.mu is held.
func (e *Engine) position(op string, s *stream, sh *shard, p StartingPosition, now time.Time) (uint64, error) {
	st, err := e.startAt(op, s, sh, p, now)
	if err != nil {
		return 0, err
	}
	return e.resolve(st)
}

// start is a starting position as far as the engine's state settles it:
// pos, or when seek is set the first record that arrived at or after ms
// (tip when there is none), which takes a storage read.
type start struct {
	pos  uint64
	seek bool
	ms   int64
	tip  uint64
	ref  storage.ShardRef
}

// startAt checks a starting position and resolves it without storage I/O.
// e.mu is held.
func (e *Engine) startAt(op string, s *stream, sh *shard, p StartingPosition, now time.Time) (start, error) {
	sh.mu.Lock()
	closed, ending, assigned := sh.closed, sh.endingPos, sh.nextPos-1
	sh.mu.Unlock()
	tip := sh.visible.Load()
	if closed {
		tip = ending + 1
	}
	cutoff := now.Add(-time.Duration(s.retention) * time.Hour).UnixMilli()
	seek := func(ms int64) (start, error) {
		return start{seek: true, ms: ms, tip: tip, ref: sh.ref}, nil
	}
	switch p.Type {
	case TrimHorizon:
		return seek(cutoff)
	case Latest:
		return start{pos: tip}, nil
	case AtTimestamp:
		if p.Timestamp.IsZero() {
			return start{}, newError(InvalidArgumentException, "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.")
		}
		if at, cur := p.Timestamp.UnixMilli(), now.UnixMilli(); at > cur {
			return start{}, newError(InvalidArgumentException, "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %d, currentTimestampInMillis: %d", at, cur)
		}
		return seek(max(p.Timestamp.UnixMilli(), cutoff))
	case AtSequenceNumber, AfterSequenceNumber:
		if p.SequenceNumber == "" {
			return start{}, newError(InvalidArgumentException, "Must specify StartingSequenceNumber for iterator of type %s.", p.Type)
		}
		idx, pos, err := parseSeq(p.SequenceNumber)
		if err != nil {
			return start{}, newError(InvalidArgumentException, "StartingSequenceNumber %s used in %s on shard %s in stream %s under account %s is invalid.", p.SequenceNumber, op, sh.id, s.name, e.opts.AccountID)
		}
		if idx != sh.index {
			return start{}, newError(InvalidArgumentException, "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardID(idx), sh.id)
		}
		limit := assigned
		if closed {
			limit = ending
		}
		if pos > limit {
			return start{}, newError(InvalidArgumentException, "StartingSequenceNumber %s used in %s on shard %s in stream %s under account %s is invalid because it did not come from this stream.", p.SequenceNumber, op, sh.id, s.name, e.opts.AccountID)
		}
		if p.Type == AfterSequenceNumber {
			pos++
		}
		return start{pos: max(pos, 1)}, nil
	}
	return start{}, newError(InvalidArgumentException, "Unknown iterator type %s.", p.Type)
}

// resolve does a start's storage read, if it needs one. e.mu need not be held.
func (e *Engine) resolve(st start) (uint64, error) {
	if !st.seek {
		return st.pos, nil
	}
	pos, ok, err := e.db.SeekArrival(st.ref, st.ms)
	if err != nil {
		return 0, internalError(err)
	}
	if !ok {
		return st.tip, nil
	}
	return pos, nil
}

// GetRecords reads records from an iterator's position.
func (e *Engine) GetRecords(ctx context.Context, in GetRecordsInput) (GetRecordsOutput, error) {
	v := newValidator(ctx, "shardIterator", "limit", "streamARN")
	if v.required(in.ShardIterator != "", "shardIterator") {
		v.length(in.ShardIterator, "shardIterator", 1, 512)
	}
	if in.Limit < 0 {
		v.intRange(in.Limit, "limit", 1, MaxGetRecordsLimit)
	}
	if err := v.err(); err != nil {
		return GetRecordsOutput{}, err
	}
	if in.Limit > MaxGetRecordsLimit {
		return GetRecordsOutput{}, newError(InvalidArgumentException, "Limit %d is greater than the maximum of %d.", in.Limit, MaxGetRecordsLimit)
	}
	limit := in.Limit
	if limit == 0 {
		limit = MaxGetRecordsLimit
	}
	it, ok := e.signer.decodeIterator(in.ShardIterator)
	if !ok {
		return GetRecordsOutput{}, newError(InvalidArgumentException, "Invalid ShardIterator.")
	}
	now := e.clock.Now()
	if age := now.Sub(fromMs(it.issuedMs)); age > IteratorTTL {
		return GetRecordsOutput{}, newError(ExpiredIteratorException, "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			fromMs(it.issuedMs).UTC().Format("Mon Jan 02 15:04:05 UTC 2006"), now.UTC().Format("Mon Jan 02 15:04:05 UTC 2006"), IteratorTTL.Milliseconds())
	}
	view, err := e.view(StreamRef{StreamName: it.stream, StreamARN: in.StreamARN}, it.created, it.shard, false)
	if err != nil {
		return GetRecordsOutput{}, err
	}
	sh := view.sh
	if !e.opts.DisableLimits {
		if !sh.readCalls.AllowN(now, 1) || sh.readBytes.TokensAt(now) < 0 {
			sh.metrics.add(e.rateTime(now), Rate{ReadThrottled: 1})
			return GetRecordsOutput{}, newError(ProvisionedThroughputExceededException, "%s", e.throttleMessage(&stream{name: it.stream}, sh))
		}
	}
	b, err := e.readShard(view, it.pos, limit, now)
	if err != nil {
		return GetRecordsOutput{}, err
	}
	if !e.opts.DisableLimits {
		// Reads are charged after the fact; a big read leaves the bucket in
		// debt, so the next calls are throttled until it is repaid.
		for left := b.bytes; left > 0; left -= ShardReadBytesPerSec {
			sh.readBytes.ReserveN(now, int(min(left, ShardReadBytesPerSec)))
		}
	}
	sh.metrics.add(e.rateTime(now), Rate{ReadCalls: 1, RecordsOut: int64(len(b.records)), BytesOut: b.bytes})
	out := GetRecordsOutput{Records: b.records, MillisBehindLatest: b.behind}
	if b.end {
		out.ChildShards = view.children
	} else {
		out.NextShardIterator = e.signer.encodeIterator(iterator{stream: it.stream, created: it.created, shard: it.shard, pos: b.next, issuedMs: now.UnixMilli()})
	}
	if out.Records == nil {
		out.Records = []Record{}
	}
	return out, nil
}

// shardView is what a read needs of a shard, taken under the engine lock so
// the storage read itself holds none.
type shardView struct {
	sh        *shard
	stream    string
	retention time.Duration
	closed    bool
	ending    uint64
	children  []ChildShard
	keys      *keyChain // opens the stream's sealed records
	// wake, when asked for, is closed at the next commit or close of the
	// shard after the view was taken.
	wake <-chan struct{}
}

// view takes a shard's state for a read. With watch it also takes the
// shard's wake channel, before the state: a commit or close that the view
// misses then closes the channel, so a follower waiting on it cannot
// sleep through it (the channel is taken before the state is read, and
// the writer changes the state before it notifies).
func (e *Engine) view(ref StreamRef, created int64, idx uint32, watch bool) (shardView, error) {
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.forData(ref)
	if err != nil {
		return shardView{}, err
	}
	if created != 0 && s.created.UnixMilli() != created {
		return shardView{}, e.notFound(s.name)
	}
	sh := s.shardByIndex(idx)
	if sh == nil {
		return shardView{}, e.shardNotFound(s.name, shardID(idx))
	}
	v := shardView{sh: sh, stream: s.name, retention: time.Duration(s.retention) * time.Hour, keys: s.enc.chain}
	if watch {
		v.wake = sh.waitChan()
	}
	sh.mu.Lock()
	v.closed, v.ending = sh.closed, sh.endingPos
	sh.mu.Unlock()
	if v.closed {
		v.children = s.children(sh.id)
	}
	return v, nil
}

type readBatch struct {
	records []Record
	bytes   int64
	next    uint64
	behind  int64
	end     bool // a closed shard read to its end
}

// readShard reads visible, unexpired records from pos.
func (e *Engine) readShard(v shardView, pos uint64, limit int, now time.Time) (readBatch, error) {
	sh := v.sh
	visible := sh.visible.Load()
	cutoff := now.Add(-v.retention).UnixMilli()
	out := readBatch{next: pos}
	if pos < visible {
		recs, err := e.db.Read(sh.ref, pos, limit+1, MaxGetRecordsBytes)
		if err != nil {
			return out, internalError(err)
		}
		if len(recs) > 0 && recs[0].Arrival < cutoff {
			// Expired records the trimmer has not removed yet: jump past them.
			p, ok, err := e.db.SeekArrival(sh.ref, cutoff)
			if err != nil {
				return out, internalError(err)
			}
			recs = nil
			if ok {
				if recs, err = e.db.Read(sh.ref, max(p, pos), limit+1, MaxGetRecordsBytes); err != nil {
					return out, internalError(err)
				}
			} else {
				out.next = max(pos, visible)
			}
		}
		var lookahead *storage.Record
		for i := range recs {
			r := &recs[i]
			if r.Position >= visible {
				break
			}
			if len(out.records) == limit {
				lookahead = r
				break
			}
			rec, err := toRecord(sh, v.keys, r)
			if err != nil {
				return out, err
			}
			out.records = append(out.records, rec)
			out.bytes += int64(len(r.Data) + len(r.PartitionKey))
			out.next = r.Position + 1
		}
		if len(recs) == 0 && out.next == pos {
			out.next = max(pos, visible) // nothing stored from pos: skip failed positions
		}
		if out.next < visible {
			if lookahead == nil {
				more, err := e.db.Read(sh.ref, out.next, 1, 0)
				if err != nil {
					return out, internalError(err)
				}
				if len(more) > 0 && more[0].Position < visible {
					lookahead = &more[0]
				}
			}
			if lookahead != nil {
				out.behind = max(0, now.UnixMilli()-lookahead.Arrival)
			}
		}
	}
	if v.closed && out.next > v.ending && visible > v.ending {
		out.end = true
		out.behind = 0
	}
	return out, nil
}

// toRecord turns a stored record into what readers see, opening it when
// it is sealed: a KMS refusal is the service's error, a record that does
// not authenticate is an InternalFailure carrying the DamageError.
func toRecord(sh *shard, keys *keyChain, r *storage.Record) (Record, error) {
	encType := EncryptionNone
	if r.Sealed != nil {
		encType = EncryptionKMS
		if err := r.Unseal(sh.ref, keys); err != nil {
			if CodeOf(err) == "" {
				// Say which record and why: this is damage, not a hiccup.
				return Record{}, &Error{Code: InternalFailure, Message: fmt.Sprintf("Internal service failure: %v.", err), Err: err}
			}
			return Record{}, err
		}
	}
	out := Record{
		SequenceNumber:              formatSeq(sh.index, r.Position),
		ApproximateArrivalTimestamp: fromMs(r.Arrival),
		Data:                        r.Data,
		PartitionKey:                r.PartitionKey,
		EncryptionType:              encType,
	}
	if len(r.ExplicitHashKey) == 16 {
		out.ExplicitHashKey = HashKeyFromBytes([16]byte(r.ExplicitHashKey)).String()
	}
	if out.Data == nil {
		out.Data = []byte{}
	}
	return out, nil
}

// Subscription follows one shard from a position, woken by each commit on
// the shard; it reads from storage, so a slow follower never holds up a writer.
type Subscription struct {
	e       *Engine
	ref     StreamRef
	created int64
	shard   uint32
	pos     uint64
	done    chan struct{}
	ended   bool
	// MaxRecords bounds one event; default 10000.
	MaxRecords int
}

// Subscribe starts following a shard. No throughput limit applies: it is
// the in-process basis of the console's feed and of enhanced fan-out.
func (e *Engine) Subscribe(ctx context.Context, in SubscribeInput) (*Subscription, error) {
	var v validator
	v.shardID(in.ShardID, "shardId", true)
	if v.required(in.Position.Type != "", "startingPosition.type") && !validIteratorType(in.Position.Type) {
		v.add(string(in.Position.Type), "startingPosition.type", "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	e.settleReshards()
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.forData(in.StreamRef)
	if err != nil {
		return nil, err
	}
	sh := s.shardByID(in.ShardID)
	if sh == nil {
		return nil, e.shardNotFound(s.name, in.ShardID)
	}
	pos, err := e.position("Subscribe", s, sh, in.Position, e.clock.Now())
	if err != nil {
		return nil, err
	}
	sub := &Subscription{e: e, ref: StreamRef{StreamName: s.name}, created: s.created.UnixMilli(), shard: sh.index, pos: pos, done: make(chan struct{}), MaxRecords: MaxGetRecordsLimit}
	sh.mu.Lock()
	sh.subs[sub] = struct{}{}
	sh.mu.Unlock()
	return sub, nil
}

// Next waits for records after the subscription's position and returns
// them. At the end of a closed shard it returns one event with the child
// shards, then io.EOF.
func (sub *Subscription) Next(ctx context.Context) (SubscriptionEvent, error) {
	if sub.ended {
		return SubscriptionEvent{}, io.EOF
	}
	for {
		now := sub.e.clock.Now()
		p, err := sub.poll(now)
		if err != nil {
			return SubscriptionEvent{}, err
		}
		if p.ready {
			p.sh.metrics.add(sub.e.rateTime(now), Rate{RecordsOut: int64(len(p.ev.Records)), BytesOut: p.bytes})
			return p.ev, nil
		}
		if due := sub.e.dueTime(); !due.IsZero() {
			// A deferred reshard may end this shard at its due time with no
			// commit to wake us.
			if err := waitUntil(ctx, sub.e.clock, due, p.wake, sub.done); err != nil {
				return SubscriptionEvent{}, err
			}
			select {
			case <-sub.done:
				return SubscriptionEvent{}, io.EOF
			default:
				continue
			}
		}
		select {
		case <-p.wake:
		case <-sub.done:
			return SubscriptionEvent{}, io.EOF
		case <-ctx.Done():
			return SubscriptionEvent{}, ctx.Err()
		}
	}
}

// pollStep names the points of poll where a test's pollHook runs: after
// the shard's state was taken, and after its records were read.
type pollStep int

const (
	pollViewed pollStep = iota
	pollRead
)

// polled is one look at a subscription's shard: an event when records are
// ready or the shard has ended, else a channel closed at the next commit.
type polled struct {
	ev    SubscriptionEvent
	ready bool
	bytes int64
	sh    *shard
	wake  <-chan struct{}
}

// poll reads what is ready at the subscription's position and moves past
// it. At the end of a closed shard the event carries the children and no
// continuation (the shape the KCL takes for the shard's end), and the
// subscription is closed.
func (sub *Subscription) poll(now time.Time) (polled, error) {
	view, err := sub.e.view(sub.ref, sub.created, sub.shard, true)
	if err != nil {
		return polled{}, err
	}
	if sub.e.pollHook != nil {
		sub.e.pollHook(pollViewed)
	}
	p := polled{sh: view.sh, wake: view.wake}
	b, err := sub.e.readShard(view, sub.pos, sub.MaxRecords, now)
	if err != nil {
		return polled{}, err
	}
	if sub.e.pollHook != nil {
		sub.e.pollHook(pollRead)
	}
	sub.pos = b.next
	if len(b.records) > 0 || b.end {
		p.ready, p.bytes = true, b.bytes
		p.ev = SubscriptionEvent{Records: b.records, MillisBehindLatest: b.behind}
		if b.end {
			p.ev.ChildShards = view.children
			sub.ended = true
			sub.Close()
		} else {
			p.ev.ContinuationSequenceNumber = formatSeq(sub.shard, b.next-1)
		}
	}
	return p, nil
}

// Position returns the continuation sequence number: just before the next record.
func (sub *Subscription) Position() string { return formatSeq(sub.shard, sub.pos-1) }

// Close stops the subscription; a waiting Next returns io.EOF.
func (sub *Subscription) Close() {
	sub.e.mu.RLock()
	s := sub.e.streams[sub.ref.StreamName]
	var sh *shard
	if s != nil {
		sh = s.shardByIndex(sub.shard)
	}
	sub.e.mu.RUnlock()
	if sh != nil {
		sh.mu.Lock()
		if _, ok := sh.subs[sub]; ok {
			delete(sh.subs, sub)
			close(sub.done)
		}
		sh.mu.Unlock()
	}
}

// closeSubscriptions ends every subscription of a shard that goes away.
func (sh *shard) closeSubscriptions() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for sub := range sh.subs {
		close(sub.done)
		delete(sh.subs, sub)
	}
}
