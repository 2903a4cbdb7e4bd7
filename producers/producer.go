package producers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardscope/shardscope/engine"
)

// Service limits and runtime defaults.
const (
	// MaxBatchRecords is the most records one PutRecords call takes.
	MaxBatchRecords = 500
	// MaxBatchBytes is the most data plus partition keys one PutRecords
	// call takes, 5 MiB.
	MaxBatchBytes = 5 << 20
	// MaxRate caps a producer's target rate, in records per second.
	MaxRate = 100_000

	DefaultMaxAttempts   = 5
	DefaultBackoffBase   = 100 * time.Millisecond
	DefaultBackoffMax    = 5 * time.Second
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultMaxPending    = 5000
	// DefaultShardMapRefresh is how often an aggregating producer lists
	// the shards again.
	DefaultShardMapRefresh = 30 * time.Second

	// defaultTick is how often Run polls the clock for due records.
	defaultTick = 10 * time.Millisecond
	// maxBatchesPerStep bounds the calls of one step so a step stays short.
	maxBatchesPerStep = 8
	// rateWindow is the window of Stats.ActualRate.
	rateWindow = 5 * time.Second
)

// ErrRunning is returned by Run when the producer is already running.
var ErrRunning = errors.New("producers: producer is already running")

// Config configures a Producer. Zero fields take the defaults noted.
type Config struct {
	// Rate is the target rate in records per second (0: idle until set).
	Rate float64
	// Skew spreads records over the generator's entities (default Uniform).
	Skew Skew
	// HotShare is the share of records the HotKey skew sends with the hot
	// key (default DefaultHotShare).
	HotShare float64
	// Size pads records to a target size (default: natural size).
	Size SizeProfile
	// Seed makes the records reproducible.
	Seed int64
	// Clock paces the producer and stamps records (default the wall clock).
	Clock engine.Clock
	// BatchMax is the most records per PutRecords call (default and cap 500).
	BatchMax int
	// MaxAttempts is how many times a record is sent before it is given up
	// (default DefaultMaxAttempts).
	MaxAttempts int
	// BackoffBase and BackoffMax bound the exponential backoff of retries:
	// attempt n waits a uniformly random time in [0, min(max, base·2^(n−1))]
	// (defaults DefaultBackoffBase, DefaultBackoffMax).
	BackoffBase, BackoffMax time.Duration
	// FlushInterval is the longest a partial batch waits (default 100 ms).
	FlushInterval time.Duration
	// MaxPending bounds the records waiting to be sent or retried; while it
	// is reached the producer generates nothing (default DefaultMaxPending).
	MaxPending int
	// Off starts the producer switched off.
	Off bool
	// Aggregate packs user records into KPL aggregated records (several
	// user records per Kinesis record; see Aggregator), as the KPL does.
	// Records are grouped by the open shard their partition key maps to
	// (from ListShards), so an aggregate never mixes shards; without a
	// shard map they are grouped by partition key.
	Aggregate bool
	// AggregateMaxBytes bounds an aggregated record, data plus partition
	// key (default DefaultAggregateMaxBytes, the KPL's; cap MaxRecordBytes).
	AggregateMaxBytes int
	// ShardMapRefresh is how often, by the clock, the shard map used for
	// aggregation is listed again (default 30s); a record landing in
	// another shard than predicted also refreshes it.
	ShardMapRefresh time.Duration
}

func (c Config) withDefaults() Config {
	c.Rate = clampRate(c.Rate)
	if c.HotShare <= 0 || c.HotShare > 1 {
		c.HotShare = DefaultHotShare
	}
	if c.Clock == nil {
		c.Clock = engine.SystemClock{}
	}
	if c.BatchMax <= 0 || c.BatchMax > MaxBatchRecords {
		c.BatchMax = MaxBatchRecords
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = DefaultBackoffMax
	}
	c.BackoffMax = max(c.BackoffMax, c.BackoffBase)
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	c.MaxPending = max(c.MaxPending, c.BatchMax)
	if c.AggregateMaxBytes <= 0 {
		c.AggregateMaxBytes = DefaultAggregateMaxBytes
	}
	c.AggregateMaxBytes = min(c.AggregateMaxBytes, MaxRecordBytes)
	if c.ShardMapRefresh <= 0 {
		c.ShardMapRefresh = DefaultShardMapRefresh
	}
	return c
}

func clampRate(r float64) float64 {
	if math.IsNaN(r) || r < 0 {
		return 0
	}
	return math.Min(r, MaxRate)
}

// Stats is a snapshot of a producer. Counters count user records unless
// noted (with aggregation, a throttled aggregate counts each of its user
// records), and only grow. Once Run has returned, Sent + GivenUp ==
// Generated.
type Stats struct {
	Name   string
	Kind   string // the generator's kind, such as "iot"
	Stream string
	On     bool
	// Rate is the target rate in force (BaseRate times a running burst).
	Rate     float64
	BaseRate float64
	// ActualRate and ActualBytes are the acknowledged records and bytes per
	// second over the last few seconds.
	ActualRate  float64
	ActualBytes float64
	Skew        string
	HotShare    float64
	Size        SizeProfile

	Generated uint64 // records made
	Sent      uint64 // records the sink acknowledged
	SentBytes uint64 // data plus partition-key bytes of the Kinesis records acknowledged
	Throttled uint64 // per-record ProvisionedThroughputExceededException rejections
	Failed    uint64 // other per-record rejections (InternalFailure, …)
	Retried   uint64 // records scheduled for another attempt
	GivenUp   uint64 // records dropped after MaxAttempts, an unretriable error, or on stop
	Calls     uint64 // PutRecords calls
	Errors    uint64 // PutRecords calls that failed as a whole
	Pending   int    // records waiting to be sent or retried
	LastError string // the last whole-call error or non-throttle rejection

	// Aggregating reports whether KPL aggregation is on.
	Aggregating bool
	// KinesisRecords counts the Kinesis records acknowledged: an aggregate
	// counts once (Sent counts its user records).
	KinesisRecords uint64
	// Aggregates counts the acknowledged Kinesis records that were KPL
	// aggregates.
	Aggregates uint64
	// Misrouted counts aggregates acknowledged by another shard than
	// predicted with user records outside that shard; a consumer drops
	// those, so their user records were sent again.
	Misrouted uint64

	Bursting    bool
	BurstFactor float64
	BurstLeft   time.Duration
}

// Producer sends one generator's records to a stream at a controllable
// rate. Its setters and Stats are safe to call from any goroutine while Run
// is running; Stats never waits for the sink.
type Producer struct {
	name   string
	gen    Generator
	sink   Sink
	stream string
	ref    engine.StreamRef
	clock  engine.Clock
	cfg    Config
	tick   time.Duration

	running atomic.Bool
	steps   atomic.Uint64 // completed steps, for tests

	mu    sync.Mutex // guards ctl, st and meter
	ctl   control
	st    Stats
	meter meter

	// Owned by the goroutine in Run.
	lim              *rate.Limiter
	rnd              *rand.Rand // records
	jit              *rand.Rand // backoff jitter, apart so throttling leaves records unchanged
	jitter           func(limit time.Duration) time.Duration
	queue            []pending // ready to send, oldest first
	retry            []pending // waiting for their backoff to pass
	started          bool
	lastGen          time.Time
	lastFlush        time.Time
	callFails        int
	callBackoffUntil time.Time
	shardMap         []engine.Shard // open shards by range, for aggregation; nil: unknown
	shardMapAt       time.Time
	shardMapStale    bool
}

type control struct {
	baseRate    float64
	skew        Skew
	hotShare    float64
	size        SizeProfile
	on          bool
	burstFactor float64 // 0: no burst
	burstUntil  time.Time
	aggregate   bool
}

// pending is a Kinesis record waiting to be sent: one user record, or an
// aggregate of several.
type pending struct {
	key      string
	ehk      string
	data     []byte
	attempts int
	readyAt  time.Time
	// For an aggregate: its user records, and the shard it was made for
	// ("" when grouped by partition key).
	parts []pending
	shard string
}

// users returns the number of user records in rec.
func (rec *pending) users() uint64 {
	if rec.parts != nil {
		return uint64(len(rec.parts))
	}
	return 1
}

// New returns a producer named name that sends gen's records to stream (a
// name, or an ARN) through sink. It does nothing until Run.
func New(name string, gen Generator, sink Sink, stream string, cfg Config) *Producer {
	cfg = cfg.withDefaults()
	p := &Producer{
		name:   name,
		gen:    gen,
		sink:   sink,
		stream: stream,
		ref:    streamRef(stream),
		clock:  cfg.Clock,
		cfg:    cfg,
		tick:   defaultTick,
		ctl: control{
			baseRate:  cfg.Rate,
			skew:      cfg.Skew,
			hotShare:  cfg.HotShare,
			size:      cfg.Size,
			on:        !cfg.Off,
			aggregate: cfg.Aggregate,
		},
		lim: rate.NewLimiter(0, 0),
		rnd: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x9e3779b97f4a7c15)),
		jit: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6a09e667f3bcc909)),
	}
	p.jitter = p.fullJitter
	p.st = Stats{Name: name, Kind: gen.Kind(), Stream: stream}
	return p
}

// Name returns the producer's name.
func (p *Producer) Name() string { return p.name }

// Generator returns the producer's generator; it must not be used while
// the producer runs.
func (p *Producer) Generator() Generator { return p.gen }

// SetRate sets the target rate in records per second, clamped to
// [0, MaxRate]. A running burst multiplies it.
func (p *Producer) SetRate(r float64) {
	p.mu.Lock()
	p.ctl.baseRate = clampRate(r)
	p.mu.Unlock()
}

// Scale multiplies the target rate by factor (such as 2 or 0.5) and
// returns the new rate.
func (p *Producer) Scale(factor float64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctl.baseRate = clampRate(p.ctl.baseRate * factor)
	return p.ctl.baseRate
}

// SetSkew sets the key distribution.
func (p *Producer) SetSkew(s Skew) {
	p.mu.Lock()
	p.ctl.skew = s
	p.mu.Unlock()
}

// CycleSkew moves to the next key distribution (Uniform → Zipf → HotKey →
// Uniform) and returns it.
func (p *Producer) CycleSkew() Skew {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctl.skew = p.ctl.skew.Next()
	return p.ctl.skew
}

// SetHotShare sets the share of records the HotKey skew sends with the
// hot key, clamped to [0, 1].
func (p *Producer) SetHotShare(share float64) {
	if math.IsNaN(share) {
		return
	}
	p.mu.Lock()
	p.ctl.hotShare = math.Min(1, math.Max(0, share))
	p.mu.Unlock()
}

// SetSize sets the size profile of the records generated from now on.
func (p *Producer) SetSize(sp SizeProfile) {
	p.mu.Lock()
	p.ctl.size = sp
	p.mu.Unlock()
}

// SetOn switches generation on or off. Switched off, the producer makes no
// new records but still delivers (or gives up) those already pending, then
// sends nothing more.
func (p *Producer) SetOn(on bool) {
	p.mu.Lock()
	p.ctl.on = on
	p.mu.Unlock()
}

// Toggle flips the producer on or off and returns the new state.
func (p *Producer) Toggle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctl.on = !p.ctl.on
	return p.ctl.on
}

// SetAggregate switches KPL aggregation on or off for the records sent
// from now on.
func (p *Producer) SetAggregate(on bool) {
	p.mu.Lock()
	p.ctl.aggregate = on
	p.mu.Unlock()
}

// ToggleAggregate flips KPL aggregation and returns the new state.
func (p *Producer) ToggleAggregate() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctl.aggregate = !p.ctl.aggregate
	return p.ctl.aggregate
}

// Burst multiplies the target rate by factor for duration d of the
// producer's clock, then reverts. A new burst replaces a running one;
// factor ≤ 0 or d ≤ 0 ends it.
func (p *Producer) Burst(factor float64, d time.Duration) {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if factor <= 0 || d <= 0 || math.IsNaN(factor) {
		p.ctl.burstFactor = 0
		return
	}
	p.ctl.burstFactor = factor
	p.ctl.burstUntil = now.Add(d)
}

// effective returns the control state at now, ending a burst that is over.
// Call with p.mu held.
func (p *Producer) effective(now time.Time) (c control, target float64) {
	if p.ctl.burstFactor > 0 && !now.Before(p.ctl.burstUntil) {
		p.ctl.burstFactor = 0
	}
	c = p.ctl
	target = c.baseRate
	if c.burstFactor > 0 {
		target = clampRate(target * c.burstFactor)
	}
	return c, target
}

// Stats returns a snapshot of the producer.
func (p *Producer) Stats() Stats {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	c, target := p.effective(now)
	s := p.st
	s.On = c.on
	s.Rate = target
	s.BaseRate = c.baseRate
	s.Skew = c.skew.String()
	s.HotShare = c.hotShare
	s.Size = c.size
	s.Aggregating = c.aggregate
	s.ActualRate, s.ActualBytes = p.meter.rate(now)
	if c.burstFactor > 0 {
		s.Bursting = true
		s.BurstFactor = c.burstFactor
		s.BurstLeft = c.burstUntil.Sub(now)
	}
	return s
}

// Run generates and sends records until ctx is done, then gives up the
// records still pending and returns nil. It returns ErrRunning at once if
// the producer is already running.
func (p *Producer) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer p.running.Store(false)
	defer p.abandon()
	t := time.NewTicker(p.tick)
	defer t.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		p.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// step does one round of the loop: it generates the records that are due
// at the clock's time and sends the batches that are ready.
func (p *Producer) step(ctx context.Context) {
	defer p.steps.Add(1)
	now := p.clock.Now()
	p.mu.Lock()
	c, target := p.effective(now)
	if !p.started {
		p.meter.start = now
	}
	p.mu.Unlock()
	if !p.started {
		p.started = true
		p.lastGen, p.lastFlush = now, now
	}
	if lim := rate.Limit(target); p.lim.Limit() != lim {
		p.lim.SetLimitAt(now, lim)
		p.lim.SetBurstAt(now, int(math.Max(1, math.Ceil(target/4))))
	}
	if c.on && target > 0 {
		p.generate(now, c)
	} else {
		p.lastGen = now
	}
	p.flush(ctx, now, c.aggregate)
	p.setPending()
}

// pendingUsers counts the user records waiting to be sent or retried.
func (p *Producer) pendingUsers() int {
	n := 0
	for i := range p.queue {
		n += int(p.queue[i].users())
	}
	for i := range p.retry {
		n += int(p.retry[i].users())
	}
	return n
}

func (p *Producer) setPending() {
	n := p.pendingUsers()
	p.mu.Lock()
	p.st.Pending = n
	p.mu.Unlock()
}

// generate makes the records whose tokens are available at now, stamping
// them evenly over the time since the last generation.
func (p *Producer) generate(now time.Time, c control) {
	n := int(p.lim.TokensAt(now))
	n = min(n, p.cfg.MaxPending-p.pendingUsers())
	if n <= 0 || !p.lim.AllowN(now, n) {
		return
	}
	from := p.lastGen
	if from.After(now) || now.Sub(from) > time.Second {
		from = now.Add(-time.Second)
	}
	span := now.Sub(from)
	keys := NewKeyPicker(c.skew, c.hotShare)
	for k := 1; k <= n; k++ {
		ts := from.Add(span * time.Duration(k) / time.Duration(n))
		key, data := p.gen.Next(p.rnd, ts, keys)
		data = c.size.pad(p.rnd, data, len(key))
		p.queue = append(p.queue, pending{key: key, data: data})
	}
	p.lastGen = now
	p.mu.Lock()
	p.st.Generated += uint64(n)
	p.mu.Unlock()
}

// flush sends the ready records: full batches at once, a partial batch
// once FlushInterval has passed since the last call. Aggregating, it packs
// the queue into aggregates once FlushInterval has passed (or a full
// batch's worth is queued) and sends them.
func (p *Producer) flush(ctx context.Context, now time.Time, aggregate bool) {
	if now.Before(p.callBackoffUntil) {
		return
	}
	// Retries whose backoff has passed go first.
	var due []pending
	waiting := p.retry[:0]
	for _, rec := range p.retry {
		if !now.Before(rec.readyAt) {
			due = append(due, rec)
		} else {
			waiting = append(waiting, rec)
		}
	}
	clear(p.retry[len(waiting):])
	p.retry = waiting
	if len(due) > 0 {
		p.queue = append(due, p.queue...)
	}
	if aggregate && len(p.queue) > 0 {
		ready := now.Sub(p.lastFlush) >= p.cfg.FlushInterval || p.queue[0].parts != nil || p.queue[0].attempts > 0
		if !ready {
			size := 0
			for i := range p.queue {
				size += len(p.queue[i].data) + len(p.queue[i].key)
			}
			ready = size >= MaxBatchBytes
		}
		if !ready {
			return
		}
		p.aggregateQueue(ctx, now)
		for range maxBatchesPerStep {
			n, _ := p.batchLen()
			if n == 0 {
				return
			}
			batch := p.queue[:n:n]
			p.queue = p.queue[n:]
			p.lastFlush = now
			p.send(ctx, batch)
			if ctx.Err() != nil || now.Before(p.callBackoffUntil) {
				return
			}
		}
		return
	}
	for range maxBatchesPerStep {
		n, full := p.batchLen()
		if n == 0 || (!full && now.Sub(p.lastFlush) < p.cfg.FlushInterval) {
			return
		}
		batch := p.queue[:n:n]
		p.queue = p.queue[n:]
		p.lastFlush = now
		p.send(ctx, batch)
		if ctx.Err() != nil || now.Before(p.callBackoffUntil) {
			return
		}
	}
}

// batchLen returns how many records from the front of the queue make the
// next batch, and whether that batch is full (by count or size).
func (p *Producer) batchLen() (n int, full bool) {
	size := 0
	for n < len(p.queue) {
		if n == p.cfg.BatchMax {
			return n, true
		}
		rec := &p.queue[n]
		sz := len(rec.data) + len(rec.key)
		if n > 0 && size+sz > MaxBatchBytes {
			return n, true
		}
		size += sz
		n++
	}
	return n, n == p.cfg.BatchMax
}

// send makes one PutRecords call and settles its records: acknowledged,
// scheduled for a retry, or given up.
func (p *Producer) send(ctx context.Context, batch []pending) {
	in := engine.PutRecordsInput{StreamRef: p.ref, Records: make([]engine.PutRecordsEntry, len(batch))}
	for i, rec := range batch {
		in.Records[i] = engine.PutRecordsEntry{Data: rec.data, PartitionKey: rec.key, ExplicitHashKey: rec.ehk}
	}
	p.mu.Lock()
	p.st.Calls++
	p.mu.Unlock()

	out, err := p.sink.PutRecords(ctx, in)
	done := p.clock.Now()
	if err == nil && len(out.Records) != len(batch) {
		err = fmt.Errorf("PutRecords returned %d results for %d records", len(out.Records), len(batch))
	}

	var sent, sentBytes, throttled, failed, retried, givenUp, kinesis, aggregates, misrouted uint64
	lastErr := ""
	retryOrGiveUp := func(rec pending, readyAt time.Time) {
		rec.attempts++
		if rec.attempts >= p.cfg.MaxAttempts {
			givenUp += rec.users()
			return
		}
		rec.readyAt = readyAt
		p.retry = append(p.retry, rec)
		retried += rec.users()
	}
	switch {
	case err != nil && ctx.Err() != nil:
		// Stopping: these records will not be delivered by this run.
		for i := range batch {
			givenUp += batch[i].users()
		}
	case err != nil:
		p.callFails++
		p.callBackoffUntil = done.Add(p.callBackoff(p.callFails))
		lastErr = err.Error()
		for _, rec := range batch {
			retryOrGiveUp(rec, p.callBackoffUntil)
		}
	default:
		p.callFails = 0
		for i, res := range out.Records {
			rec := batch[i]
			switch res.ErrorCode {
			case "":
				if p.misrouted(ctx, done, &rec, res.ShardID) {
					// A consumer drops this aggregate: send its user
					// records again, one by one.
					misrouted++
					for _, part := range rec.parts {
						retryOrGiveUp(part, done)
					}
					continue
				}
				sent += rec.users()
				sentBytes += uint64(len(rec.data) + len(rec.key))
				kinesis++
				if rec.parts != nil {
					aggregates++
				}
			case engine.ProvisionedThroughputExceededException:
				throttled += rec.users()
				retryOrGiveUp(rec, done.Add(p.jitter(p.backoffLimit(rec.attempts+1))))
			case engine.InternalFailure:
				failed += rec.users()
				lastErr = string(res.ErrorCode) + ": " + res.ErrorMessage
				retryOrGiveUp(rec, done.Add(p.jitter(p.backoffLimit(rec.attempts+1))))
			default:
				failed += rec.users()
				givenUp += rec.users()
				lastErr = string(res.ErrorCode) + ": " + res.ErrorMessage
			}
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.Sent += sent
	p.st.SentBytes += sentBytes
	p.st.Throttled += throttled
	p.st.Failed += failed
	p.st.Retried += retried
	p.st.GivenUp += givenUp
	p.st.KinesisRecords += kinesis
	p.st.Aggregates += aggregates
	p.st.Misrouted += misrouted
	if err != nil && ctx.Err() == nil {
		p.st.Errors++
	}
	if lastErr != "" {
		p.st.LastError = lastErr
	}
	if sent > 0 {
		p.meter.add(done, sent, sentBytes)
	}

}

// backoffLimit is the longest wait before attempt n+1 after n failed
// attempts: min(BackoffMax, BackoffBase·2^(n−1)).
func (p *Producer) backoffLimit(n int) time.Duration {
	d := p.cfg.BackoffBase
	for i := 1; i < n && d < p.cfg.BackoffMax; i++ {
		d *= 2
	}
	return min(d, p.cfg.BackoffMax)
}

// fullJitter returns a uniformly random wait in [0, limit].
func (p *Producer) fullJitter(limit time.Duration) time.Duration {
	if limit <= 0 {
		return 0
	}
	return time.Duration(p.jit.Int64N(int64(limit) + 1))
}

// callBackoff is the pause after n failed calls in a row. It keeps half
// the limit as a floor ("equal jitter") so a failing sink is never
// hammered, even by an unlucky draw.
func (p *Producer) callBackoff(n int) time.Duration {
	limit := p.backoffLimit(n)
	return limit/2 + p.fullJitter(limit/2)
}

// abandon gives up every pending record; Run calls it on the way out.
func (p *Producer) abandon() {
	n := p.pendingUsers()
	p.queue, p.retry = nil, nil
	p.mu.Lock()
	p.st.GivenUp += uint64(n)
	p.st.Pending = 0
	p.mu.Unlock()
}

// meter counts acknowledged records and bytes in 100 ms buckets of the
// producer's clock.
type meter struct {
	start   time.Time
	buckets [rateBuckets]bucket
}

const (
	bucketWidth = 100 * time.Millisecond
	rateBuckets = int(rateWindow / bucketWidth)
)

type bucket struct {
	idx          int64
	recs, nbytes uint64
}

func (m *meter) add(now time.Time, recs, nbytes uint64) {
	idx := now.UnixNano() / int64(bucketWidth)
	b := &m.buckets[int(idx%int64(rateBuckets)+int64(rateBuckets))%rateBuckets]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	b.recs += recs
	b.nbytes += nbytes
}

// rate returns records and bytes per second over the window ending at now
// (or since start, when that is shorter).
func (m *meter) rate(now time.Time) (recs, nbytes float64) {
	if m.start.IsZero() {
		return 0, 0
	}
	cur := now.UnixNano() / int64(bucketWidth)
	var r, b uint64
	for _, bk := range m.buckets {
		if bk.idx > cur-int64(rateBuckets) && bk.idx <= cur && (bk.recs > 0 || bk.nbytes > 0) {
			r += bk.recs
			b += bk.nbytes
		}
	}
	from := time.Unix(0, (cur-int64(rateBuckets)+1)*int64(bucketWidth))
	if m.start.After(from) {
		from = m.start
	}
	secs := now.Sub(from).Seconds()
	if secs < bucketWidth.Seconds() {
		secs = bucketWidth.Seconds()
	}
	return float64(r) / secs, float64(b) / secs
}
