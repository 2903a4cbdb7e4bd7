// Package remote is the console's backend for a stream shardscope does not
// run (shardscope attach): it reads the stream through api/remote within a
// read budget that leaves the stream's own consumers their share, measures
// throughput from the records it reads, lists shards, lineage and fan-out
// consumers on a timer, and hands the console an engine.Snapshot of it all.
// Service errors become events and the header's status; it keeps going
// with backoff.
package remote

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/ui"
	"golang.org/x/time/rate"
)

// ShardReadsPerSecond is the service's GetRecords limit per shard, shared
// by every polling consumer of the stream.
const ShardReadsPerSecond = 5

// Config says what to read and how gently.
type Config struct {
	Stream string
	From   From
	// EFO names the registered consumer to read through with
	// SubscribeToShard; "" polls with GetRecords.
	EFO string
	// ReadInterval is the least time between two GetRecords calls on one
	// shard; 0 means 1 s (20 % of the shard's 5 reads/s).
	ReadInterval time.Duration
	// RefreshInterval is how often the shards, the summary and the
	// consumers are listed again; 0 means 10 s.
	RefreshInterval time.Duration
	// MaxRate caps the synthetic producers, all together, in records/s
	// (--allow-writes only); 0 means 100.
	MaxRate float64
	// Seed seeds the synthetic producers.
	Seed int64
	// ConfirmWithin is how long a write waits for its second key press;
	// 0 means 10 s.
	ConfirmWithin time.Duration
	// LeaseTable names a KCL application's lease table in DynamoDB to
	// show in the consumers pane (DynamoDBEndpoint for a local one, ""
	// for AWS); read every LeaseInterval, 0 means 5 s.
	LeaseTable, DynamoDBEndpoint string
	LeaseInterval                time.Duration
}

func (c *Config) fill() {
	if c.ReadInterval <= 0 {
		c.ReadInterval = time.Second
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 10 * time.Second
	}
	if c.MaxRate <= 0 {
		c.MaxRate = 100
	}
	if c.ConfirmWithin <= 0 {
		c.ConfirmWithin = 10 * time.Second
	}
	if c.From.Type == "" {
		c.From.Type = engine.Latest
	}
}

// feedCapacity bounds the records waiting for the console's next tick.
const feedCapacity = 4096

// Backend is a ui.Backend over a remote stream.
type Backend struct {
	c   *remote.Client
	cfg Config

	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wake     chan struct{}
	stopOnce sync.Once

	prods *producers.Set // nil unless writes are allowed

	mu        sync.Mutex // guards what follows
	sum       engine.StreamSummary
	haveSum   bool
	missing   string // why the stream cannot be described, "" when it can
	shards    []engine.Shard
	consumers []engine.Consumer
	listed    bool // the first listing is done
	states    map[string]*shardState
	events    []engine.Event
	seq       uint64
	feed      []engine.TapRecord
	dropped   uint64
	lost      string // why the endpoint does not answer, "" when it does
	lostSince time.Time
	problem   string // the latest service error, for the header
	problemAt time.Time
	// fan-out: the consumer's ARN once ACTIVE, whether we registered it,
	// and why reading fell back to polling ("" while it did not).
	leases     *leaseWatch // nil without --lease-table
	efoARN     string
	registered bool
	fallback   string
	efoSettled bool
	confirm    map[string]time.Time
	lastThrot  map[string]time.Time
	budgets    map[string]*rate.Limiter // per shard, shared with replays
}

var _ ui.Backend = (*Backend)(nil)

// New returns a backend over the client; Start begins reading.
func New(c *remote.Client, cfg Config) *Backend {
	cfg.fill()
	b := &Backend{c: c, cfg: cfg, wake: make(chan struct{}, 1), states: map[string]*shardState{},
		confirm: map[string]time.Time{}, lastThrot: map[string]time.Time{}}
	if c.AllowsWrites() {
		sink := newCappedSink(c, cfg.MaxRate)
		base := producers.Config{Seed: cfg.Seed, Off: true}
		b.prods = producers.DefaultsWith(sink, cfg.Stream, base)
		// Share the cap among the three so their demo rates add up to it.
		var total float64
		for _, p := range b.prods.All() {
			total += p.Stats().Rate
		}
		if total > cfg.MaxRate {
			for _, p := range b.prods.All() {
				p.Scale(cfg.MaxRate / total)
			}
		}
	}
	return b
}

// Start begins listing and reading until Stop.
func (b *Backend) Start(ctx context.Context) error {
	b.ctx, b.cancel = context.WithCancel(ctx)
	b.event(engine.EventStream, "", "attached to %s (%s); %s", b.cfg.Stream, b.where(), b.budgetSentence())
	if b.prods != nil {
		if err := b.prods.Start(b.ctx); err != nil {
			return err
		}
	}
	b.wg.Add(1)
	go b.refreshLoop()
	if b.cfg.LeaseTable != "" {
		b.leases = newLeaseWatch(b.c, b.cfg)
		b.wg.Add(1)
		go b.leaseLoop()
	}
	return nil
}

// Stop stops the producers first, then the readers, and deregisters the
// fan-out consumer if this console registered it.
func (b *Backend) Stop() { b.stopOnce.Do(b.stop) }

func (b *Backend) stop() {
	if b.prods != nil {
		b.prods.Stop()
	}
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	b.mu.Lock()
	arn, ours := b.efoARN, b.registered
	b.mu.Unlock()
	if ours && arn != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.c.DeregisterStreamConsumer(ctx, engine.ConsumerRef{ConsumerARN: arn})
	}
}

// where names the endpoint for people: the region, or the endpoint's URL.
func (b *Backend) where() string {
	if e := b.c.Endpoint(); e != "" {
		return strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
	}
	return b.c.Region()
}

// Where is what the header shows after "@": the region, or the endpoint.
func (b *Backend) Where() string { return b.where() }

// readsPerSecond is the polling budget per shard.
func (b *Backend) readsPerSecond() float64 { return float64(time.Second) / float64(b.cfg.ReadInterval) }

func (b *Backend) budgetSentence() string {
	if b.cfg.EFO != "" {
		return "reading with enhanced fan-out through consumer " + b.cfg.EFO + " (its own 2 MiB/s per shard; billed per consumer-shard-hour)"
	}
	r := b.readsPerSecond()
	return fmt.Sprintf("polling GetRecords %s/s per shard = %.0f %% of the shard's %d reads/s, from %s", trimFloat(r), 100*r/ShardReadsPerSecond, ShardReadsPerSecond, b.cfg.From)
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// event adds an event for the events pane.
func (b *Backend) event(kind engine.EventKind, shard, format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eventLocked(kind, shard, format, args...)
}

func (b *Backend) eventLocked(kind engine.EventKind, shard, format string, args ...any) {
	b.seq++
	b.events = append(b.events, engine.Event{Seq: b.seq, At: time.Now(), Kind: kind, Stream: b.cfg.Stream, ShardID: shard, Message: fmt.Sprintf(format, args...)})
	if n := len(b.events) - engine.MaxEvents; n > 0 {
		b.events = append(b.events[:0], b.events[n:]...)
	}
}

// ok notes an answered call: a lost connection is back.
func (b *Backend) ok() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost != "" {
		b.eventLocked(engine.EventStream, "", "connection back after %s", time.Since(b.lostSince).Round(time.Second))
		b.lost = ""
	}
}

// fail notes a failed call; what says which.
func (b *Backend) fail(what, shard string, err error) {
	if err == nil || b.ctx.Err() != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if remote.IsConnection(err) {
		if b.lost == "" {
			b.lost, b.lostSince = err.Error(), now
			b.eventLocked(engine.EventError, shard, "connection lost (%s): %v; retrying with backoff", what, err)
		}
		return
	}
	msg := what + ": " + err.Error()
	if b.problem != msg || now.Sub(b.problemAt) > 30*time.Second {
		b.eventLocked(engine.EventError, shard, "%s; retrying with backoff", msg)
	}
	b.problem, b.problemAt = msg, now
}

// backoff is exponential with full jitter, from 1 s to 30 s.
type backoff struct{ n int }

func (w *backoff) next() time.Duration {
	w.n = min(w.n+1, 6)
	d := time.Second << (w.n - 1)
	d = min(d, 30*time.Second)
	return d/2 + rand.N(d/2+1)
}

func (w *backoff) reset() { w.n = 0 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// refreshNow asks the refresh loop for a listing now.
func (b *Backend) refreshNow() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// refreshLoop lists the stream on a timer and when woken, and starts
// readers for shards that are due.
func (b *Backend) refreshLoop() {
	defer b.wg.Done()
	var w backoff
	for {
		wait := b.cfg.RefreshInterval
		if err := b.refresh(); err != nil {
			wait = min(w.next(), wait)
		} else {
			w.reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-b.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// refresh describes the stream, lists its shards and consumers and starts
// the readers that are due.
func (b *Backend) refresh() error {
	ctx := b.ctx
	sum, err := b.c.DescribeStreamSummary(ctx, engine.StreamRef{StreamName: b.cfg.Stream})
	if err != nil {
		b.fail("DescribeStreamSummary", "", err)
		if engine.IsCode(err, engine.ResourceNotFoundException) {
			b.mu.Lock()
			b.haveSum, b.missing = false, err.Error()
			b.mu.Unlock()
		}
		return err
	}
	b.ok()
	shards, err := b.c.AllShards(ctx, engine.StreamRef{StreamName: b.cfg.Stream})
	if err != nil {
		b.fail("ListShards", "", err)
		return err
	}
	var cons []engine.Consumer
	var consErr error
	if sum.StreamARN != "" {
		cons, consErr = b.c.AllConsumers(ctx, sum.StreamARN)
	}
	b.mu.Lock()
	if b.haveSum {
		b.noteSummaryChangesLocked(sum)
	} else {
		enc, em := sum.EncryptionType, "off"
		if enc == "" {
			enc = "NONE"
		}
		if len(sum.EnhancedMonitoring) > 0 {
			em = strings.Join(sum.EnhancedMonitoring, ", ")
		}
		b.eventLocked(engine.EventStream, "", "%s: %s, %s, %d open shards, retention %dh, encryption %s, enhanced monitoring %s, %d fan-out consumers",
			b.cfg.Stream, sum.StreamStatus, sum.StreamMode, sum.OpenShardCount, sum.RetentionPeriodHours, enc, em, sum.ConsumerCount)
	}
	b.sum, b.haveSum, b.missing = sum, true, ""
	b.noteShardChangesLocked(shards)
	b.shards = shards
	if consErr == nil {
		b.consumers = cons
	}
	b.mu.Unlock()
	if consErr != nil && !unsupported(consErr) {
		b.fail("ListStreamConsumers", "", consErr)
	}
	if b.cfg.EFO != "" && !b.efoDone() {
		b.setUpFanOut(sum.StreamARN)
	}
	b.schedule()
	return nil
}

func (b *Backend) efoDone() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.efoSettled
}

// unsupported reports whether err says the endpoint does not implement the
// call (kinesalite has no enhanced fan-out).
func unsupported(err error) bool {
	switch engine.CodeOf(err) {
	case "UnknownOperationException", "UnrecognizedClientException", "InvalidAction", "NotImplemented", "UnsupportedOperation", "UnknownOperation":
		return true
	}
	return false
}

func (b *Backend) noteSummaryChangesLocked(s engine.StreamSummary) {
	o := b.sum
	if o.StreamStatus != s.StreamStatus {
		b.eventLocked(engine.EventStream, "", "status %s → %s", o.StreamStatus, s.StreamStatus)
	}
	if o.StreamMode != s.StreamMode {
		b.eventLocked(engine.EventMode, "", "capacity mode %s → %s", o.StreamMode, s.StreamMode)
	}
	if o.RetentionPeriodHours != s.RetentionPeriodHours {
		b.eventLocked(engine.EventRetention, "", "retention %dh → %dh", o.RetentionPeriodHours, s.RetentionPeriodHours)
	}
}

// noteShardChangesLocked tells of shards that appeared or closed since the
// last listing: a reshard made anywhere.
func (b *Backend) noteShardChangesLocked(shards []engine.Shard) {
	if !b.listed {
		return
	}
	old := map[string]engine.Shard{}
	for _, s := range b.shards {
		old[s.ShardID] = s
	}
	for _, s := range shards {
		o, seen := old[s.ShardID]
		switch {
		case !seen && s.AdjacentParentShardID != "":
			b.eventLocked(engine.EventReshard, s.ShardID, "new shard %s, merged from %s and %s", s.ShardID, s.ParentShardID, s.AdjacentParentShardID)
		case !seen && s.ParentShardID != "":
			b.eventLocked(engine.EventReshard, s.ShardID, "new shard %s, split from %s", s.ShardID, s.ParentShardID)
		case !seen:
			b.eventLocked(engine.EventReshard, s.ShardID, "new shard %s", s.ShardID)
		case o.Open() && !s.Open():
			b.eventLocked(engine.EventReshard, s.ShardID, "shard %s closed", s.ShardID)
		}
	}
}

// setUpFanOut finds or registers the --efo consumer and waits for it to be
// ACTIVE; an endpoint without fan-out makes the readers poll instead.
func (b *Backend) setUpFanOut(streamARN string) {
	ctx, name := b.ctx, b.cfg.EFO
	ref := engine.ConsumerRef{StreamARN: streamARN, ConsumerName: name}
	registered := false
	deadline := time.Now().Add(2 * time.Minute)
	for ctx.Err() == nil {
		d, err := b.c.DescribeStreamConsumer(ctx, ref)
		switch {
		case err == nil && d.ConsumerStatus == engine.ConsumerActive:
			b.mu.Lock()
			b.efoARN, b.registered, b.efoSettled = d.ConsumerARN, b.registered || registered, true
			b.mu.Unlock()
			if registered {
				b.event(engine.EventStream, "", "registered fan-out consumer %s (RegisterStreamConsumer); it is deregistered when the console quits", name)
			} else {
				b.event(engine.EventStream, "", "reading through the registered fan-out consumer %s (left registered on quit)", name)
			}
			return
		case err == nil:
			// CREATING or DELETING: wait
		case engine.IsCode(err, engine.ResourceNotFoundException) && !registered:
			if _, rerr := b.c.RegisterStreamConsumer(ctx, engine.RegisterConsumerInput{StreamARN: streamARN, ConsumerName: name}); rerr != nil {
				if unsupported(rerr) || isReadOnly(rerr) {
					b.fallBack(rerr)
					return
				}
				b.fail("RegisterStreamConsumer", "", rerr)
			} else {
				registered = true
				b.mu.Lock()
				b.registered = true // deregister on exit even if it never turns ACTIVE
				b.mu.Unlock()
			}
		case unsupported(err):
			b.fallBack(err)
			return
		default:
			b.fail("DescribeStreamConsumer", "", err)
		}
		if time.Now().After(deadline) {
			b.fallBack(fmt.Errorf("consumer %s did not become ACTIVE within 2 minutes", name))
			return
		}
		if !sleepCtx(ctx, time.Second) {
			return
		}
	}
}

func isReadOnly(err error) bool {
	return errors.Is(err, remote.ErrReadOnly)
}

// fallBack makes the readers poll: the endpoint has no fan-out.
func (b *Backend) fallBack(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fallback, b.efoSettled = err.Error(), true
	b.eventLocked(engine.EventError, "", "enhanced fan-out is not available here (%v): polling GetRecords instead, %s/s per shard", err, trimFloat(b.readsPerSecond()))
}

// fanOutLocked returns the consumer's ARN when readers subscribe (an
// ACTIVE consumer, no fallback), "" when they poll, and whether they may
// start at all yet.
func (b *Backend) fanOutLocked() (arn string, ready bool) {
	if b.cfg.EFO == "" {
		return "", true
	}
	if !b.efoSettled {
		return "", false
	}
	if b.fallback != "" {
		return "", true
	}
	return b.efoARN, true
}

// schedule starts a reader for every shard that is due: parents before
// children.
func (b *Backend) schedule() {
	b.mu.Lock()
	defer b.mu.Unlock()
	arn, ready := b.fanOutLocked()
	if !ready || b.ctx.Err() != nil {
		return
	}
	first := !b.listed
	b.listed = true
	for _, s := range b.shards {
		st := b.states[s.ShardID]
		if st == nil {
			st = &shardState{id: s.ShardID}
			b.states[s.ShardID] = st
			st.pos = engine.StartingPosition{Type: engine.TrimHorizon}
			if first {
				f := b.cfg.From
				st.pos = engine.StartingPosition{Type: f.Type, Timestamp: f.At, SequenceNumber: f.Seq}
				if (f.Type == engine.Latest || f.Type == engine.AtSequenceNumber) && !s.Open() {
					st.done, st.skipped = true, true
				}
			}
		}
		if st.started || st.done || !b.parentsDoneLocked(s) {
			continue
		}
		st.started = true
		b.wg.Add(1)
		if arn != "" {
			go b.subscribe(st, arn)
		} else {
			go b.poll(st)
		}
	}
}

func (b *Backend) parentsDoneLocked(s engine.Shard) bool {
	for _, p := range []string{s.ParentShardID, s.AdjacentParentShardID} {
		if ps := b.states[p]; p != "" && ps != nil && !ps.done {
			return false
		}
	}
	return true
}

// ended marks a shard read to its end and starts its children.
func (b *Backend) ended(st *shardState, children []engine.ChildShard) {
	b.mu.Lock()
	st.done = true
	known := true
	for _, c := range children {
		st.children = append(st.children, c.ShardID)
		if b.states[c.ShardID] == nil && !b.hasShardLocked(c.ShardID) {
			known = false
		}
	}
	b.mu.Unlock()
	if !known {
		b.refreshNow()
	}
	b.schedule()
}

func (b *Backend) hasShardLocked(id string) bool {
	for _, s := range b.shards {
		if s.ShardID == id {
			return true
		}
	}
	return false
}

// took records a read's outcome.
func (b *Backend) took(st *shardState, recs []engine.Record, lag int64, calls int64) {
	now := time.Now()
	b.mu.Lock()
	st.account(now, recs, lag)
	st.seen.at(now.Unix()).readCalls += calls
	b.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	// De-aggregate KPL records for the feed: each user record shows with
	// its sub-sequence number ("<seq>/<sub>", as the KCL checkpoints it).
	users, _ := consumers.Deaggregate(recs, nil)
	tap := make([]engine.TapRecord, 0, len(users))
	for _, u := range users {
		r := u.Record
		if u.Aggregated {
			r.SequenceNumber = u.Position().String()
			if u.SubSequenceNumber == 0 {
				r.SequenceNumber += "/0"
			}
		}
		hk := engine.HashPartitionKey(r.PartitionKey)
		if h, ok := engine.ParseHashKey(r.ExplicitHashKey); ok && r.ExplicitHashKey != "" {
			hk = h
		}
		tap = append(tap, engine.TapRecord{Stream: b.cfg.Stream, ShardID: st.id, HashKey: hk, Record: r})
	}
	b.mu.Lock()
	b.feed = append(b.feed, tap...)
	if n := len(b.feed) - feedCapacity; n > 0 {
		b.feed = append(b.feed[:0], b.feed[n:]...)
		b.dropped += uint64(n)
	}
	b.mu.Unlock()
}

// throttled counts a read the service refused.
func (b *Backend) throttled(st *shardState, err error) {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	st.throttled++
	st.seen.at(now.Unix()).readThrottled++
	st.seen.at(now.Unix()).readCalls++
	if now.Sub(b.lastThrot[st.id]) > 10*time.Second {
		b.lastThrot[st.id] = now
		b.eventLocked(engine.EventThrottle, st.id, "read throttled on %s (%s): other consumers use the shard's 5 reads/s or 2 MiB/s; backing off", st.id, engine.CodeOf(err))
	}
}

// poll reads one shard with GetRecords, at most once per ReadInterval.
func (b *Backend) poll(st *shardState) {
	defer b.wg.Done()
	ctx := b.ctx
	b.mu.Lock()
	pos := st.pos
	b.mu.Unlock()
	var w backoff
	it := ""
	// Spread the shards' reads over the interval.
	next := time.Now().Add(rand.N(b.cfg.ReadInterval))
	for ctx.Err() == nil {
		if it == "" {
			in := engine.GetShardIteratorInput{StreamRef: engine.StreamRef{StreamName: b.cfg.Stream}, ShardID: st.id,
				ShardIteratorType: pos.Type, StartingSequenceNumber: pos.SequenceNumber, Timestamp: pos.Timestamp}
			var err error
			it, err = b.c.GetShardIterator(ctx, in)
			switch {
			case err == nil:
				b.ok()
			case pos.Type == engine.AtSequenceNumber && engine.IsCode(err, engine.InvalidArgumentException):
				b.event(engine.EventStream, st.id, "%s: sequence number %s is not in this shard; reading it from LATEST", st.id, pos.SequenceNumber)
				pos = engine.StartingPosition{Type: engine.Latest}
				continue
			case engine.IsCode(err, engine.ResourceNotFoundException):
				b.fail("GetShardIterator "+st.id, st.id, err)
				b.ended(st, nil) // the shard expired
				return
			default:
				b.fail("GetShardIterator "+st.id, st.id, err)
				if !sleepCtx(ctx, w.next()) {
					return
				}
				continue
			}
		}
		if d := time.Until(next); d > 0 && !sleepCtx(ctx, d) {
			return
		}
		if b.budget(st.id).Wait(ctx) != nil {
			return
		}
		next = time.Now().Add(b.cfg.ReadInterval)
		out, err := b.c.GetRecords(ctx, engine.GetRecordsInput{ShardIterator: it})
		switch {
		case err == nil:
			b.ok()
			w.reset()
		case engine.IsCode(err, engine.ProvisionedThroughputExceededException):
			b.throttled(st, err)
			next = time.Now().Add(max(b.cfg.ReadInterval, w.next()))
			continue
		case engine.IsCode(err, engine.ExpiredIteratorException):
			it = ""
			continue
		default:
			b.fail("GetRecords "+st.id, st.id, err)
			if ctx.Err() != nil {
				return
			}
			if !remote.IsConnection(err) {
				it = "" // a fresh iterator from where we were
			}
			next = time.Now().Add(max(b.cfg.ReadInterval, w.next()))
			continue
		}
		b.took(st, out.Records, out.MillisBehindLatest, 1)
		if n := len(out.Records); n > 0 {
			pos = engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: out.Records[n-1].SequenceNumber}
		}
		it = out.NextShardIterator
		if it == "" {
			b.ended(st, out.ChildShards)
			return
		}
	}
}

// Sorting helpers.
func shardIndex(id string) int {
	i := strings.LastIndexByte(id, '-')
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return 0
	}
	return n
}

func sortShards(s []engine.ShardSnapshot) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Open != s[j].Open {
			return s[i].Open
		}
		return s[i].Index < s[j].Index
	})
}
