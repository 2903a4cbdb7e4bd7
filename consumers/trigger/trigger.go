package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// Trigger is one event source mapping: a consumer application reading
// Settings.Stream whose record processor batches records into Lambda
// events for its Invoker. Make it with New, run it with Run, watch it with
// Stats.
type Trigger struct {
	set   Settings
	inv   Invoker
	dest  Destination
	app   *consumers.App
	arn   string
	clock engine.Clock

	runCtx atomic.Pointer[context.Context]

	mu     sync.Mutex // guards what follows
	shards map[string]*ShardStats
	tot    ShardStats
	rate   [16]rateSlot
}

type rateSlot struct{ sec, n int64 }

// New returns a mapping reading through src (the embedded engine or a
// remote source), its leases in leases (nil: in memory) and a copy of its
// checkpoints in cps (nil: none; the lease table holds them anyway).
// Settings are validated (ValidationException / InvalidParameterValue
// errors); inv nil means the function named by Settings.Exec or URL.
// dest receives on-failure records; nil means Settings.OnFailure opened as
// a file (a stream destination must be given here, see OpenDestination).
func New(src consumers.Source, leases consumers.LeaseStore, cps consumers.CheckpointStore, s Settings, inv Invoker, dest Destination) (*Trigger, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	s = s.withDefaults()
	if inv == nil {
		var err error
		if inv, err = NewInvoker(s); err != nil {
			return nil, err
		}
	}
	if dest == nil && s.OnFailure != "" {
		var err error
		if dest, err = OpenDestination(s.OnFailure, nil); err != nil {
			return nil, err
		}
	}
	t := &Trigger{set: s, inv: inv, dest: dest, arn: s.streamARN(), shards: make(map[string]*ShardStats)}
	cfg := s.consumerConfig()
	if leases != nil {
		cfg.Leases = leases
	}
	t.app = consumers.NewRecordApp(s.Name, s.Stream, func() consumers.RecordProcessor { return &shardProc{t: t} }, src, cps, cfg)
	t.clock = t.app.Config().Clock
	return t, nil
}

// NewInvoker returns the Invoker Settings.Exec or Settings.URL names.
func NewInvoker(s Settings) (Invoker, error) {
	s = s.withDefaults()
	switch {
	case s.Exec != "":
		return &ExecInvoker{Command: s.Exec, Env: []string{
			"AWS_LAMBDA_FUNCTION_NAME=" + s.FunctionName,
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
			"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
			"AWS_REGION=" + s.Region,
			"AWS_DEFAULT_REGION=" + s.Region,
			"SHARDSCOPE_FUNCTION_ARN=" + s.functionARN(),
		}}, nil
	case s.URL != "":
		return &URLInvoker{URL: s.URL}, nil
	}
	return nil, &InvalidParameterError{"give the function: --exec 'CMD ARGS' or --url URL"}
}

// Settings returns the mapping's settings, defaults filled in.
func (t *Trigger) Settings() Settings { return t.set }

// App returns the consumer application under the mapping.
func (t *Trigger) App() *consumers.App { return t.app }

// Run reads and invokes until ctx is done, then stops gracefully: an
// invocation in progress is cancelled and its batch read again by the
// next Run (at least once).
func (t *Trigger) Run(ctx context.Context) error {
	t.runCtx.Store(&ctx)
	return t.app.Run(ctx)
}

func (t *Trigger) ctx() context.Context {
	if p := t.runCtx.Load(); p != nil {
		return *p
	}
	return context.Background()
}

func (t *Trigger) now() time.Time { return t.clock.Now() }

// ShardStats is the mapping's work on one shard (or, in Stats, all).
type ShardStats struct {
	ShardID string
	// State and Checkpoint come from the consumer application.
	State      consumers.ShardState
	Checkpoint string
	// Invocations counts calls of the function; Errors those that failed
	// (function errors, bad replies, an unreachable function); Retries the
	// batches (or parts of them) sent again after a failure.
	Invocations, Errors, Retries int64
	// Records counts records handed to the function successfully.
	Records int64
	// OnFailure counts discarded batches (retries exhausted or records
	// too old), each described to the on-failure destination if any;
	// Discarded the records in them.
	OnFailure, Discarded int64
	// IteratorAgeMillis is Lambda's IteratorAge: the age of the last record
	// of the latest finished batch when it was sent.
	IteratorAgeMillis int64
	// LastError is the latest failure's text, LastErrorAt its time.
	LastError   string
	LastErrorAt time.Time
}

// Stats is an immutable picture of a Trigger.
type Stats struct {
	Name, Stream, Function string
	At                     time.Time
	Running                bool
	// InvocationsPerSecond is the mean over the last 10 s of the clock.
	InvocationsPerSecond float64
	// Total sums the shards; its IteratorAgeMillis is the largest.
	Total  ShardStats
	Shards []ShardStats
	// App is the consumer application's own picture (leases, lag, errors
	// of reading).
	App consumers.Stats
}

// Stats returns an immutable picture of the mapping.
func (t *Trigger) Stats() Stats {
	as := t.app.Stats()
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Stats{Name: t.set.Name, Stream: t.set.Stream, Function: t.set.FunctionName, At: now, Running: as.Running, Total: t.tot, App: as}
	var n int64
	for _, r := range t.rate {
		if r.sec > now.Unix()-10 && r.sec <= now.Unix() {
			n += r.n
		}
	}
	s.InvocationsPerSecond = float64(n) / 10
	seen := make(map[string]bool)
	for _, sh := range as.Shards {
		st := ShardStats{ShardID: sh.ShardID}
		if p := t.shards[sh.ShardID]; p != nil {
			st = *p
		}
		st.State, st.Checkpoint = sh.State, sh.LastCheckpoint
		seen[sh.ShardID] = true
		s.Shards = append(s.Shards, st)
	}
	for id, p := range t.shards {
		if !seen[id] {
			s.Shards = append(s.Shards, *p)
		}
	}
	sort.Slice(s.Shards, func(i, j int) bool { return s.Shards[i].ShardID < s.Shards[j].ShardID })
	s.Total.IteratorAgeMillis = 0
	for _, sh := range s.Shards {
		s.Total.IteratorAgeMillis = max(s.Total.IteratorAgeMillis, sh.IteratorAgeMillis)
	}
	return s
}

// count updates a shard's stats and the total.
func (t *Trigger) count(shard string, fn func(s *ShardStats)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.shards[shard]
	if s == nil {
		s = &ShardStats{ShardID: shard}
		t.shards[shard] = s
	}
	fn(s)
	fn(&t.tot)
}

func (t *Trigger) noteInvoke(shard string) {
	sec := t.now().Unix()
	t.mu.Lock()
	slot := &t.rate[sec%int64(len(t.rate))]
	if slot.sec != sec {
		*slot = rateSlot{sec: sec}
	}
	slot.n++
	t.mu.Unlock()
	t.count(shard, func(s *ShardStats) { s.Invocations++ })
}

func (t *Trigger) fail(shard, text string) {
	at := t.now()
	t.count(shard, func(s *ShardStats) {
		s.Errors++
		s.LastError, s.LastErrorAt = text, at
	})
}

// item is a record of a flush with its index there.
type item struct {
	i int
	r consumers.UserRecord
}

// flush is a run of records being sent: records are marked done as their
// batches finish (in any order across lanes), and the checkpoint follows
// the prefix of done records.
type flush struct {
	p    *shardProc
	cp   consumers.Checkpointer
	recs []consumers.UserRecord

	mu     sync.Mutex
	done   []bool
	prefix int
	lost   bool
}

func (f *flush) mark(items []item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range items {
		f.done[it.i] = true
	}
	n := f.prefix
	for n < len(f.done) && f.done[n] {
		n++
	}
	if n == f.prefix || f.lost {
		return
	}
	r := f.recs[n-1]
	if err := f.cp.CheckpointAt(r.SequenceNumber, r.SubSequenceNumber); err != nil {
		if errors.Is(err, consumers.ErrLeaseLost) {
			f.lost = true
			return
		}
		f.p.t.fail(f.p.shard, "checkpoint: "+err.Error())
		return
	}
	f.prefix = n
}

func (f *flush) isLost() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost
}

// window is an open tumbling window of a shard.
type window struct {
	start, end time.Time
	state      json.RawMessage
	// restarted: the state outgrew maxState and started over, which the
	// next invocations of the window say with isWindowTerminatedEarly.
	restarted bool
}

// shardProc is the RecordProcessor of one shard.
type shardProc struct {
	t     *Trigger
	shard string

	buf         []consumers.UserRecord
	bufBytes    int
	windowStart time.Time // start of the batching window
	tw          *window
}

var _ consumers.IdleProcessor = (*shardProc)(nil)

func (p *shardProc) Initialize(shardID string, _ consumers.ExtendedSequenceNumber) error {
	p.shard = shardID
	p.windowStart = p.t.now()
	p.t.count(shardID, func(*ShardStats) {})
	return nil
}

func (p *shardProc) ProcessRecords(in consumers.ProcessRecordsInput, cp consumers.Checkpointer) error {
	for _, r := range in.Records {
		p.buf = append(p.buf, r)
		p.bufBytes += recordSize(r)
	}
	p.send(cp, false)
	return nil
}

func (p *shardProc) ProcessIdle(_ string, cp consumers.Checkpointer) error {
	p.send(cp, false)
	if p.tw != nil && len(p.buf) == 0 && !p.t.now().Before(p.tw.end) {
		// Caught up and the window is over: its final invocation.
		p.closeWindow()
	}
	return nil
}

func (p *shardProc) Shutdown(reason consumers.ShutdownReason, cp consumers.Checkpointer) {
	if reason != consumers.ShutdownShardEnded {
		return // what is not checkpointed is read again by the next owner
	}
	if !p.send(cp, true) {
		return
	}
	// Windows do not span reshards: the shard's last window ends here.
	if p.tw != nil && !p.closeWindow() {
		return
	}
	if err := cp.Checkpoint(); err != nil && !errors.Is(err, consumers.ErrLeaseLost) {
		p.t.fail(p.shard, "checkpoint: "+err.Error())
	}
}

// send invokes the function with what the buffer holds once a batch is
// due: at once without a batching window, else when the window has passed
// (everything), or for the full batches gathered meanwhile. It reports
// whether all it sent was finished (false when stopping).
func (p *shardProc) send(cp consumers.Checkpointer, force bool) bool {
	if len(p.buf) == 0 {
		return true
	}
	s := &p.t.set
	n := len(p.buf)
	win := time.Duration(s.MaximumBatchingWindowInSeconds) * time.Second
	if !force && win > 0 && p.t.now().Sub(p.windowStart) < win {
		full := n / s.BatchSize * s.BatchSize
		if full == 0 && p.bufBytes < maxPayload {
			return true
		}
		if full > 0 {
			n = full
		}
	}
	recs := p.buf[:n:n]
	p.buf = append([]consumers.UserRecord(nil), p.buf[n:]...)
	p.bufBytes = 0
	for _, r := range p.buf {
		p.bufBytes += recordSize(r)
	}
	f := &flush{p: p, cp: cp, recs: recs, done: make([]bool, len(recs))}
	ok := p.process(f)
	// The next batching window begins when the invocation completes.
	p.windowStart = p.t.now()
	return ok
}

// process sends a flush's records: split into ParallelizationFactor lanes
// by partition key (one key's records in one lane, in order), each lane's
// batches in turn, the lanes at once.
func (p *shardProc) process(f *flush) bool {
	s := &p.t.set
	if s.TumblingWindowInSeconds > 0 {
		return p.processWindows(f)
	}
	lanes := make([][]item, s.ParallelizationFactor)
	for i, r := range f.recs {
		l := 0
		if len(lanes) > 1 {
			h := fnv.New32a()
			h.Write([]byte(r.PartitionKey))
			l = int(h.Sum32() % uint32(len(lanes)))
		}
		lanes[l] = append(lanes[l], item{i: i, r: r})
	}
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, lane := range lanes {
		if len(lane) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range p.batches(lane) {
				if !p.runBatch(b, f) {
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return !failed.Load()
}

// batches cuts a lane into batches of at most BatchSize records and 6 MB.
func (p *shardProc) batches(lane []item) [][]item {
	var out [][]item
	start, size := 0, 0
	for i, it := range lane {
		rs := recordSize(it.r)
		if i > start && (i-start >= p.t.set.BatchSize || size+rs > maxPayload) {
			out = append(out, lane[start:i])
			start, size = i, 0
		}
		size += rs
	}
	return append(out, lane[start:])
}

// processWindows sends a flush's records window by window (by arrival
// time), closing a window with its final invocation when a later one
// begins.
func (p *shardProc) processWindows(f *flush) bool {
	w := time.Duration(p.t.set.TumblingWindowInSeconds) * time.Second
	i := 0
	for i < len(f.recs) {
		start := windowStart(f.recs[i].ApproximateArrivalTimestamp, w)
		if p.tw != nil && !p.tw.start.Equal(start) {
			if !p.closeWindow() {
				return false
			}
		}
		if p.tw == nil {
			p.tw = &window{start: start, end: start.Add(w), state: json.RawMessage("{}")}
		}
		j := i
		var run []item
		for j < len(f.recs) && windowStart(f.recs[j].ApproximateArrivalTimestamp, w).Equal(start) {
			run = append(run, item{i: j, r: f.recs[j]})
			j++
		}
		for _, b := range p.batches(run) {
			if !p.runBatch(b, f) {
				return false
			}
		}
		i = j
	}
	return true
}

func windowStart(at time.Time, w time.Duration) time.Time {
	sec := int64(w / time.Second)
	return time.Unix(at.Unix()/sec*sec, 0).UTC()
}

// closeWindow makes the window's final invocation (no records, its
// state), retried until it succeeds: a failed final invocation holds the
// shard. It reports false when stopping first.
func (p *shardProc) closeWindow() bool {
	var wait time.Duration
	for {
		res := p.invoke(nil, true, true)
		if res.stopped {
			return false
		}
		if res.kind == resultOK || res.kind == resultPartial {
			p.tw = nil
			return true
		}
		p.t.count(p.shard, func(s *ShardStats) { s.Retries++ })
		if wait = p.grow(wait); !sleep(p.t.ctx(), wait) {
			return false
		}
	}
}

func (p *shardProc) grow(cur time.Duration) time.Duration {
	base := p.t.set.RetryBackoff
	switch {
	case cur < base:
		return base
	case cur >= 4*base:
		return 8 * base
	}
	return 2 * cur
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// piece is part of a batch on its way: after a bisect, each half.
type piece struct {
	items    []item
	attempts int // retries after a failure so far
	invokes  int
}

// runBatch sends one batch until it is done: processed, or discarded to
// the on-failure destination (too old, or retries exhausted), bisecting
// and following batchItemFailures as the settings say. It reports false
// when stopping (or the lease is lost) first.
func (p *shardProc) runBatch(batch []item, f *flush) bool {
	s := &p.t.set
	queue := []piece{{items: batch}}
	var wait time.Duration
	for len(queue) > 0 {
		if f.isLost() || p.t.ctx().Err() != nil {
			return false
		}
		pc := &queue[0]
		if s.MaximumRecordAgeInSeconds >= 0 {
			maxAge := time.Duration(s.MaximumRecordAgeInSeconds) * time.Second
			now := p.t.now()
			k := 0
			for k < len(pc.items) && now.Sub(pc.items[k].r.ApproximateArrivalTimestamp) > maxAge {
				k++
			}
			if k > 0 {
				// Records found too old before any invocation still show
				// one, as the service's records do.
				if !p.discard(RecordAgeExceeded, pc.items[:k], max(pc.invokes, 1), nil, false) {
					return false
				}
				f.mark(pc.items[:k])
				pc.items = pc.items[k:]
				if len(pc.items) == 0 {
					queue = queue[1:]
					continue
				}
			}
		}
		res := p.invoke(pc.items, p.tw != nil, false)
		if res.stopped {
			return false
		}
		pc.invokes++
		var fnErr *string
		switch res.kind {
		case resultOK:
			f.mark(pc.items)
			queue, wait = queue[1:], 0
			continue
		case resultUnreachable:
			// Not the function's fault: retried without using an attempt.
			p.t.count(p.shard, func(s *ShardStats) { s.Retries++ })
			if wait = p.grow(wait); !sleep(p.t.ctx(), wait) {
				return false
			}
			continue
		case resultPartial:
			f.mark(pc.items[:res.failAt])
			pc.items = pc.items[res.failAt:]
		case resultFunctionError:
			u := "Unhandled"
			fnErr = &u
			fallthrough
		case resultBadReply:
			if s.BisectBatchOnFunctionError && len(pc.items) > 1 {
				// Splits do not use up retry attempts.
				half := len(pc.items) / 2
				l := piece{items: pc.items[:half], attempts: pc.attempts, invokes: pc.invokes}
				r := piece{items: pc.items[half:], attempts: pc.attempts, invokes: pc.invokes}
				queue = append([]piece{l, r}, queue[1:]...)
				p.t.count(p.shard, func(s *ShardStats) { s.Retries++ })
				continue
			}
		}
		pc.attempts++
		if s.MaximumRetryAttempts >= 0 && pc.attempts > s.MaximumRetryAttempts {
			if !p.discard(RetryAttemptsExhausted, pc.items, pc.invokes, fnErr, true) {
				return false
			}
			f.mark(pc.items)
			queue, wait = queue[1:], 0
			continue
		}
		p.t.count(p.shard, func(s *ShardStats) { s.Retries++ })
		if wait = p.grow(wait); !sleep(p.t.ctx(), wait) {
			return false
		}
	}
	return true
}

// discard gives up on records: an on-failure record, then counted. It
// reports false when stopping before the record could be sent: the
// records are then not checkpointed, and discarded again after a restart.
func (p *shardProc) discard(cond string, items []item, invokes int, fnErr *string, withResponse bool) bool {
	counted := func() bool {
		p.t.count(p.shard, func(s *ShardStats) {
			s.OnFailure++
			s.Discarded += int64(len(items))
		})
		return true
	}
	if p.t.dest == nil {
		return counted()
	}
	rec := p.failureRecord(cond, items, invokes, fnErr, withResponse)
	var wait time.Duration
	for {
		err := p.t.dest.Send(p.t.ctx(), rec)
		if err == nil {
			return counted()
		}
		p.t.fail(p.shard, "on-failure destination: "+err.Error())
		if wait = p.grow(wait); !sleep(p.t.ctx(), wait) {
			return false
		}
	}
}

// The kinds of an invocation's result.
const (
	resultOK            = iota
	resultPartial       // batchItemFailures: failAt is the first failed item
	resultFunctionError // the function failed
	resultBadReply      // the reply fails the whole batch
	resultUnreachable   // the function could not be called
)

type result struct {
	kind    int
	failAt  int
	stopped bool
}

// event builds the event for items, with the window fields when tw.
func (p *shardProc) event(items []item, tw *window) Event {
	ev := Event{Records: make([]EventRecord, len(items))}
	for i, it := range items {
		ev.Records[i] = p.t.eventRecord(p.shard, it.r)
	}
	if tw != nil {
		f := false
		ev.Window = &Window{Start: tw.start.Format(time.RFC3339), End: tw.end.Format(time.RFC3339)}
		ev.State, ev.ShardID, ev.EventSourceARN = tw.state, p.shard, p.t.arn
		ev.IsFinalInvokeForWindow, ev.IsWindowTerminatedEarly = &f, &f
	}
	return ev
}

// maxState is the most window state carried; more ends the window early.
const maxState = 1 << 20

// invoke calls the function once with items (in the open tumbling window
// when windowed; final makes it the window's final invocation).
func (p *shardProc) invoke(items []item, windowed, final bool) result {
	t := p.t
	var ev Event
	if windowed {
		ev = p.event(items, p.tw)
		tr := true
		if final {
			ev.IsFinalInvokeForWindow = &tr
		}
		if p.tw.restarted {
			ev.IsWindowTerminatedEarly = &tr
		}
	} else {
		ev = p.event(items, nil)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		t.fail(p.shard, "event: "+err.Error())
		return result{kind: resultBadReply}
	}
	var age int64
	if len(items) > 0 {
		age = t.now().Sub(items[len(items)-1].r.ApproximateArrivalTimestamp).Milliseconds()
	}
	runCtx := t.ctx()
	timeout := time.Duration(t.set.FunctionTimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(context.WithValue(runCtx, timeoutKey{}, timeout), timeout)
	reply, err := t.inv.Invoke(ctx, body)
	cancel()
	if runCtx.Err() != nil {
		return result{stopped: true}
	}
	t.noteInvoke(p.shard)
	if err != nil {
		var fe *FunctionError
		if errors.As(err, &fe) {
			t.fail(p.shard, summarize(fe.Message))
			return result{kind: resultFunctionError}
		}
		t.fail(p.shard, "invoke: "+err.Error())
		return result{kind: resultUnreachable}
	}
	res, state, why := p.parseReply(reply, items, windowed, final)
	if why != "" && res.kind != resultPartial {
		// A partial batch response is the function's choice, not an error.
		t.fail(p.shard, why)
	}
	if res.kind == resultOK || res.kind == resultPartial {
		done := len(items)
		if res.kind == resultPartial {
			done = res.failAt
		}
		t.count(p.shard, func(s *ShardStats) {
			s.Records += int64(done)
			if len(items) > 0 {
				s.IteratorAgeMillis = age
			}
		})
		if windowed && !final && p.tw != nil {
			p.tw.state = state
		}
	}
	return res
}

// parseReply reads the function's reply as Lambda does: with
// ReportBatchItemFailures, the lowest listed sequence number fails it and
// what follows; an unusable list fails the whole batch. A windowed reply
// must carry state.
func (p *shardProc) parseReply(reply []byte, items []item, windowed, final bool) (result, json.RawMessage, string) {
	var obj map[string]json.RawMessage
	trimmed := string(trimSpace(reply))
	isObj := json.Unmarshal(reply, &obj) == nil && obj != nil
	var state json.RawMessage
	if windowed && !final {
		st, ok := obj["state"]
		if !isObj || !ok || string(st) == "null" {
			return result{kind: resultBadReply}, nil, "the reply of a tumbling window invocation has no state"
		}
		if len(st) > maxState && p.tw != nil {
			// Too big to carry: the window goes on with fresh state.
			st = json.RawMessage("{}")
			p.tw.restarted = true
		}
		state = st
	}
	if !p.t.set.reportItems() {
		return result{kind: resultOK}, state, ""
	}
	switch trimmed {
	case "", "null", "[]", "{}", `""`:
		return result{kind: resultOK}, state, ""
	}
	if !isObj {
		return result{kind: resultBadReply}, state, "invalid batchItemFailures reply: " + clip(trimmed)
	}
	raw, ok := obj["batchItemFailures"]
	if !ok || string(raw) == "null" {
		return result{kind: resultOK}, state, ""
	}
	var fails []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fails); err != nil {
		return result{kind: resultBadReply}, state, "invalid batchItemFailures: " + clip(string(raw))
	}
	if len(fails) == 0 {
		return result{kind: resultOK}, state, ""
	}
	at := -1
	for _, f := range fails {
		var id string
		if err := json.Unmarshal(f["itemIdentifier"], &id); err != nil || id == "" {
			return result{kind: resultBadReply}, state, "invalid batchItemFailures itemIdentifier: " + clip(string(f["itemIdentifier"]))
		}
		k := -1
		for i, it := range items {
			if it.r.SequenceNumber == id {
				k = i
				break
			}
		}
		if k < 0 {
			return result{kind: resultBadReply}, state, "batchItemFailures itemIdentifier not in the batch: " + clip(id)
		}
		if at < 0 || k < at {
			at = k
		}
	}
	return result{kind: resultPartial, failAt: at}, state, fmt.Sprintf("batchItemFailures from %s", items[at].r.SequenceNumber)
}

// summarize shortens a function's error text for the console: the last
// line of its stderr, or of Lambda's error JSON the type and message.
func summarize(text string) string {
	text = strings.TrimSpace(text)
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		text = strings.TrimSpace(text[i+1:])
	}
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(text), &e) == nil && e.ErrorMessage != "" {
		if e.ErrorType != "" {
			return e.ErrorType + ": " + e.ErrorMessage
		}
		return e.ErrorMessage
	}
	return clip(text)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
