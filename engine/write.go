package engine

import (
	"context"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/shardscope/shardscope/storage"
)

// PutRecord writes one record.
func (e *Engine) PutRecord(ctx context.Context, in PutRecordInput) (PutRecordOutput, error) {
	v := newValidator(ctx, "sequenceNumberForOrdering", "partitionKey", "explicitHashKey", "data", "streamName", "streamARN")
	v.ref(in.StreamRef)
	checkEntry(&v, "", in.Data, in.PartitionKey, in.ExplicitHashKey)
	if in.SequenceNumberForOrdering != "" && !seqPattern.MatchString(in.SequenceNumberForOrdering) {
		v.add(in.SequenceNumberForOrdering, "sequenceNumberForOrdering", "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})")
	}
	if err := v.err(); err != nil {
		return PutRecordOutput{}, err
	}
	if in.SequenceNumberForOrdering != "" {
		if _, _, err := parseSeq(in.SequenceNumberForOrdering); err != nil {
			return PutRecordOutput{}, newError(InvalidArgumentException, "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid.", in.SequenceNumberForOrdering, in.StreamName, e.opts.AccountID)
		}
	}
	out, err := e.put(ctx, in.StreamRef, []PutRecordsEntry{{Data: in.Data, PartitionKey: in.PartitionKey, ExplicitHashKey: in.ExplicitHashKey}})
	if err != nil {
		return PutRecordOutput{}, err
	}
	r := out.Records[0]
	if r.ErrorCode != "" {
		return PutRecordOutput{}, &Error{Code: r.ErrorCode, Message: r.ErrorMessage}
	}
	return PutRecordOutput{ShardID: r.ShardID, SequenceNumber: r.SequenceNumber, EncryptionType: out.EncryptionType}, nil
}

// PutRecords writes up to 500 records; each succeeds or fails on its own.
func (e *Engine) PutRecords(ctx context.Context, in PutRecordsInput) (PutRecordsOutput, error) {
	v := newValidator(ctx, "records", "streamName", "streamARN")
	v.ref(in.StreamRef)
	if v.required(in.Records != nil, "records") {
		if len(in.Records) < 1 {
			v.add("[]", "records", "Member must have length greater than or equal to 1")
		}
		if len(in.Records) > MaxPutRecordsEntries {
			v.add(len(in.Records), "records", "Member must have length less than or equal to 500")
		}
	}
	total := 0
	for i, r := range in.Records {
		checkEntry(&v, "records."+strconv.Itoa(i+1)+".member.", r.Data, r.PartitionKey, r.ExplicitHashKey)
		total += len(r.Data) + len(r.PartitionKey)
	}
	if err := v.err(); err != nil {
		return PutRecordsOutput{}, err
	}
	if total > MaxPutRecordsBytes {
		return PutRecordsOutput{}, newError(InvalidArgumentException, "Records size exceeds 5 MB limit")
	}
	return e.put(ctx, in.StreamRef, in.Records)
}

func checkEntry(v *validator, prefix string, data []byte, pk, ehk string) {
	if len(data) > MaxMaxRecordSizeKiB<<10 {
		v.add("java.nio.HeapByteBuffer", prefix+"data", "Member must have length less than or equal to 10485760")
	}
	if v.required(pk != "", prefix+"partitionKey") && v.unicode(pk, prefix+"partitionKey") {
		v.length(pk, prefix+"partitionKey", 1, 256)
	}
	if ehk != "" && !hashKeyPattern.MatchString(ehk) {
		v.add(ehk, prefix+"explicitHashKey", "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})")
	}
}

// pendingShard is one shard's part of a put.
type pendingShard struct {
	sh      *shard
	idx     []int // indexes into the request
	records []storage.Record
	span    *span
}

// put routes, throttles, sequences and durably writes records. Shard locks
// are held only while positions are assigned and the append is queued, so
// the queue order is the position order; the wait for disk holds no lock.
func (e *Engine) put(ctx context.Context, ref StreamRef, entries []PutRecordsEntry) (PutRecordsOutput, error) {
	e.settleReshards()
	out := PutRecordsOutput{Records: make([]PutRecordsResult, len(entries)), EncryptionType: "NONE"}
	hashes := make([]HashKey, len(entries))
	for i, r := range entries {
		if r.ExplicitHashKey != "" {
			h, ok := ParseHashKey(r.ExplicitHashKey)
			if !ok {
				return out, newError(InvalidArgumentException, "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", r.ExplicitHashKey)
			}
			hashes[i] = h
		} else {
			hashes[i] = HashPartitionKey(r.PartitionKey)
		}
	}

	var s *stream
	var sealer storage.Sealer
	for {
		e.mu.RLock()
		var err error
		s, err = e.forData(ref)
		if err == nil {
			err = checkRecordSizes(s, entries)
		}
		if err == nil {
			sealer, err = e.sealer(s)
		}
		if err == errNewDataKey {
			e.mu.RUnlock()
			if err := e.newDataKey(ref); err != nil {
				return out, err
			}
			continue
		}
		if err != nil {
			e.mu.RUnlock()
			return out, err
		}
		break
	}
	if sealer != nil {
		out.EncryptionType = EncryptionKMS
	}
	now := e.clock.Now()
	open := s.openShards()
	byShard := map[*shard]*pendingShard{}
	var order []*pendingShard
	throttled := map[*shard]int64{}
	routed := make([]*shard, len(entries))
	perShard := len(entries)/len(open) + 8
	for i, r := range entries {
		sh := s.route(open, hashes[i])
		routed[i] = sh
		size := len(r.Data) + len(r.PartitionKey)
		if !e.opts.DisableLimits && !sh.allowWrite(now, size) {
			out.Records[i] = PutRecordsResult{ErrorCode: ProvisionedThroughputExceededException, ErrorMessage: e.throttleMessage(s, sh)}
			out.FailedRecordCount++
			throttled[sh]++
			continue
		}
		p := byShard[sh]
		if p == nil {
			p = &pendingShard{sh: sh, idx: make([]int, 0, perShard), records: make([]storage.Record, 0, perShard)}
			byShard[sh] = p
			order = append(order, p)
		}
		p.idx = append(p.idx, i)
		var ehk []byte
		if r.ExplicitHashKey != "" {
			b := hashes[i].Bytes()
			ehk = b[:]
		}
		p.records = append(p.records, storage.Record{PartitionKey: r.PartitionKey, ExplicitHashKey: ehk, Data: r.Data})
	}
	for sh, n := range throttled {
		sh.metrics.add(e.rateTime(now), Rate{WriteThrottled: n})
		e.noteWriteThrottle(s, sh, now, n, entries, routed)
	}
	if len(order) == 0 {
		e.mu.RUnlock()
		return out, nil
	}
	sort.Slice(order, func(i, j int) bool { return order[i].sh.index < order[j].sh.index })
	appends := make([]storage.Append, len(order))
	nowMs := now.UnixMilli()
	for k, p := range order {
		sh := p.sh
		sh.mu.Lock()
		arrival := max(nowMs, sh.lastArrival)
		sh.lastArrival = arrival
		sp := &span{first: sh.nextPos, arrival: arrival}
		for j := range p.records {
			p.records[j].Position = sh.nextPos
			p.records[j].Arrival = arrival
			sh.nextPos++
		}
		sp.last = sh.nextPos - 1
		sh.inflight = append(sh.inflight, sp)
		p.span = sp
		appends[k] = storage.Append{Shard: sh.ref, Records: p.records, Seal: sealer}
	}
	pending := e.db.Submit(appends)
	for _, p := range order {
		p.sh.mu.Unlock()
	}
	e.mu.RUnlock()

	err := pending.Wait(ctx)
	if err != nil && isCtxErr(err) {
		// The caller has gone, but its records are queued and storage will
		// commit (or fail) them regardless: settle them by what storage
		// does, so counters, taps and subscribers match the store, without
		// holding the departed caller. Storage answers every queued append,
		// even when closing.
		go func() {
			err := pending.Wait(context.Background())
			e.settlePut(s.name, order, entries, hashes, out.EncryptionType, err, nil)
			if err != nil {
				e.event(EventError, s.name, "", "write failed: %v", err)
			}
		}()
		for _, p := range order {
			for _, i := range p.idx {
				out.Records[i] = PutRecordsResult{ErrorCode: InternalFailure, ErrorMessage: "Internal service failure."}
				out.FailedRecordCount++
			}
		}
		if out.FailedRecordCount == len(entries) {
			return out, &Error{Code: InternalFailure, Message: "The request was cancelled before the write was confirmed.", Err: err}
		}
		return out, nil
	}
	e.settlePut(s.name, order, entries, hashes, out.EncryptionType, err, &out)
	if err != nil {
		e.event(EventError, s.name, "", "write failed: %v", err)
		if out.FailedRecordCount == len(entries) {
			return out, internalError(err)
		}
	}
	return out, nil
}

// settlePut settles every shard's part of a put with storage's answer err
// and, when out is not nil, fills in each record's result.
func (e *Engine) settlePut(streamName string, order []*pendingShard, entries []PutRecordsEntry, hashes []HashKey, encType string, err error, out *PutRecordsOutput) {
	tapped := e.tapped()
	for _, p := range order {
		var recs []Record
		var hs []HashKey
		if tapped {
			recs = make([]Record, len(p.records))
			hs = make([]HashKey, len(p.records))
		}
		var bytes int64
		for j, r := range p.records {
			i := p.idx[j]
			if tapped || out != nil {
				seq := formatSeq(p.sh.index, r.Position)
				if tapped {
					recs[j] = Record{SequenceNumber: seq, ApproximateArrivalTimestamp: fromMs(r.Arrival), Data: r.Data, PartitionKey: r.PartitionKey, ExplicitHashKey: entries[i].ExplicitHashKey, EncryptionType: encType}
					hs[j] = hashes[i]
				}
				switch {
				case out == nil:
				case err == nil:
					out.Records[i] = PutRecordsResult{ShardID: p.sh.id, SequenceNumber: seq}
				default:
					out.Records[i] = PutRecordsResult{ErrorCode: InternalFailure, ErrorMessage: "Internal service failure."}
					out.FailedRecordCount++
				}
			}
			bytes += int64(len(r.Data) + len(r.PartitionKey))
		}
		p.span.records, p.span.hashes, p.span.count = recs, hs, int64(len(p.records))
		e.settle(streamName, p.sh, p.span, err == nil, bytes)
	}
}

// allowWrite takes one record and size bytes from the shard's write
// buckets, or nothing when either is short.
func (sh *shard) allowWrite(now time.Time, size int) bool {
	rr := sh.writeRecords.ReserveN(now, 1)
	if !rr.OK() || rr.DelayFrom(now) > 0 {
		rr.CancelAt(now)
		return false
	}
	burst := sh.writeBytes.Burst()
	if size > burst {
		// A record bigger than the burst (1 MiB of data plus its key) is
		// admitted, as the service does, when the bucket is full; it
		// leaves the bucket in debt so the average stays within the limit.
		if sh.writeBytes.TokensAt(now) < float64(burst) {
			rr.CancelAt(now)
			return false
		}
		for left := size; left > 0; left -= burst {
			sh.writeBytes.ReserveN(now, min(left, burst))
		}
		return true
	}
	rb := sh.writeBytes.ReserveN(now, max(size, 1))
	if !rb.OK() || rb.DelayFrom(now) > 0 {
		rb.CancelAt(now)
		rr.CancelAt(now)
		return false
	}
	return true
}

// settle marks a span committed (or failed) and publishes, in position
// order, every span that is now settled at the head of the queue.
func (e *Engine) settle(streamName string, sh *shard, sp *span, ok bool, bytes int64) {
	sh.mu.Lock()
	sp.done, sp.ok, sp.bytes = true, ok, bytes
	var published []*span
	moved := false
	for len(sh.inflight) > 0 && sh.inflight[0].done {
		head := sh.inflight[0]
		sh.inflight = sh.inflight[1:]
		sh.visible.Store(head.last + 1)
		moved = true
		if head.ok {
			published = append(published, head)
		}
	}
	now := e.clock.Now()
	for _, p := range published {
		n, b := p.count, p.bytes
		if sh.records.Add(n) == n {
			sh.oldest.Store(p.arrival)
		}
		sh.bytes.Add(b)
		sh.metrics.add(e.rateTime(now), Rate{RecordsIn: n, BytesIn: b})
		e.publish(streamName, sh, p)
	}
	sh.mu.Unlock()
	if moved {
		// Failed positions too: passing them may reach a closed shard's end,
		// which its followers wait for.
		sh.notify()
	}
}

// Tap receives every committed record of the engine into a bounded ring,
// dropping the oldest rather than ever blocking a writer.
type Tap struct {
	e       *Engine
	mu      sync.Mutex
	ring    []TapRecord
	start   int
	n       int
	dropped uint64
}

// NewTap starts a tap holding at most capacity undrained records.
func (e *Engine) NewTap(capacity int) *Tap {
	t := &Tap{e: e, ring: make([]TapRecord, max(capacity, 1))}
	e.tapsMu.Lock()
	e.taps[t] = struct{}{}
	e.tapsMu.Unlock()
	return t
}

func (t *Tap) offer(rec TapRecord) {
	t.mu.Lock()
	if t.n == len(t.ring) {
		t.ring[t.start] = rec
		t.start = (t.start + 1) % len(t.ring)
		t.dropped++
	} else {
		t.ring[(t.start+t.n)%len(t.ring)] = rec
		t.n++
	}
	t.mu.Unlock()
}

// Drain appends the undrained records to dst, oldest first, and empties the tap.
func (t *Tap) Drain(dst []TapRecord) []TapRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := 0; i < t.n; i++ {
		dst = append(dst, t.ring[(t.start+i)%len(t.ring)])
		t.ring[(t.start+i)%len(t.ring)] = TapRecord{}
	}
	t.start, t.n = 0, 0
	return dst
}

// Dropped returns how many records the tap dropped because it was full.
func (t *Tap) Dropped() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// Close detaches the tap from the engine.
func (t *Tap) Close() {
	t.e.tapsMu.Lock()
	delete(t.e.taps, t)
	t.e.tapsMu.Unlock()
}

// tapped reports whether any tap is attached, so writes can skip building
// the records taps would get.
func (e *Engine) tapped() bool {
	e.tapsMu.RLock()
	defer e.tapsMu.RUnlock()
	return len(e.taps) > 0
}

// publish hands newly visible records to taps. sh.mu is held, so records
// reach taps in position order.
func (e *Engine) publish(streamName string, sh *shard, sp *span) {
	e.tapsMu.RLock()
	defer e.tapsMu.RUnlock()
	if len(e.taps) == 0 {
		return
	}
	for i, r := range sp.records {
		tr := TapRecord{Stream: streamName, ShardID: sh.id, HashKey: sp.hashes[i], Record: r}
		for t := range e.taps {
			t.offer(tr)
		}
	}
}

// noteWriteThrottle records an event for a burst of throttled writes, at
// most one per shard every ten seconds, naming the partition key that
// carried most of the shard's share of the call when one key dominates.
func (e *Engine) noteWriteThrottle(s *stream, sh *shard, now time.Time, n int64, entries []PutRecordsEntry, routed []*shard) {
	last := sh.lastThrottleEvent.Load()
	if now.UnixMilli()-last < 10_000 || !sh.lastThrottleEvent.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	keys := map[string]int{}
	for i, r := range entries {
		if routed[i] == sh {
			keys[r.PartitionKey]++
		}
	}
	top, topN, total := "", 0, 0
	for k, c := range keys {
		total += c
		if c > topN || (c == topN && k < top) {
			top, topN = k, c
		}
	}
	if total > 1 && topN*100/total >= 20 && topN > 1 {
		e.event(EventThrottle, s.name, sh.id, "throttling on %s: %s rejected in one call — partition key %q carries %d%% of its writes", sh.id, plural(n, "record"), top, topN*100/total)
		return
	}
	e.event(EventThrottle, s.name, sh.id, "throttling on %s: %s rejected in one call (over 1 MiB/s or 1,000 records/s)", sh.id, plural(n, "record"))
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}
