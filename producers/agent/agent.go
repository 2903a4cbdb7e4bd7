package agent

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// maxRecordBytes is the service's record limit: data plus partition key.
const maxRecordBytes = 1 << 20

// Agent runs the flows of a Config against a sink.
type Agent struct {
	cfg   *Config
	sink  producers.Sink
	ckpt  *checkpointFile
	now   func() time.Time
	flows []*flowRun
}

// Options tune an Agent; the zero value is fine.
type Options struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Events receives sentences for the console or the log (rotation,
	// truncation, errors); nil drops them. It must not block for long.
	Events func(string)
}

// New checks the config and opens the checkpoint file.
func New(cfg *Config, sink producers.Sink, opts Options) (*Agent, error) {
	if cfg.CheckpointFile == "" {
		return nil, fmt.Errorf("no checkpoint file: set checkpointFile")
	}
	ckpt, err := openCheckpoints(cfg.CheckpointFile)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	events := opts.Events
	if events == nil {
		events = func(string) {}
	}
	a := &Agent{cfg: cfg, sink: sink, ckpt: ckpt, now: now}
	seen := map[string]bool{}
	for i := range cfg.Flows {
		f := &cfg.Flows[i]
		key := f.FilePattern + " → " + f.Stream
		if seen[key] {
			return nil, fmt.Errorf("two flows send %s to %s", f.FilePattern, f.Stream)
		}
		seen[key] = true
		fr := &flowRun{agent: a, flow: f, key: key, events: events}
		saved, known := ckpt.flow(key)
		fr.tail = newTailer(f, saved, known, now)
		if f.MaxRecordsPerSecond > 0 {
			burst := int(min(float64(producers.MaxBatchRecords), max(1, f.MaxRecordsPerSecond)))
			fr.limiter = rate.NewLimiter(rate.Limit(f.MaxRecordsPerSecond), burst)
		}
		a.flows = append(a.flows, fr)
	}
	return a, nil
}

// Run tails and sends until ctx ends, then sends what it has buffered
// (for up to shutdownGrace) and returns. Only failures to read the files
// or write the checkpoint end it early; a stream that refuses records is
// retried with backoff and reported in the stats.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(a.flows))
	for i, fr := range a.flows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fr.run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// shutdownGrace is how long Run keeps sending after its context ends.
const shutdownGrace = 10 * time.Second

// FlowStats is one flow as the console shows it.
type FlowStats struct {
	Pattern, Stream string
	// Records cut from the files, sent (acknowledged), skipped by
	// processing, and cut to the size limit.
	Parsed, Sent, Skipped, Truncated int64
	BytesSent                        int64
	// Resent counts records sent again after the stream refused them;
	// CallErrors counts calls that failed whole.
	Resent, CallErrors int64
	// Files followed, and how many bytes of them are not acknowledged yet.
	Files, FilesBehind int
	BytesBehind        int64
	LastSend           time.Time
	LastError          string
}

// Stats returns every flow's counters.
func (a *Agent) Stats() []FlowStats {
	out := make([]FlowStats, len(a.flows))
	for i, fr := range a.flows {
		fr.mu.Lock()
		out[i] = fr.stats
		fr.mu.Unlock()
		out[i].Pattern, out[i].Stream = fr.flow.FilePattern, fr.flow.Stream
	}
	return out
}

// flowRun is one flow's loop: read, process, buffer, send, checkpoint.
type flowRun struct {
	agent   *Agent
	flow    *Flow
	key     string
	tail    *tailer
	limiter *rate.Limiter
	events  func(string)

	// buf is the buffer not yet acknowledged (refused records first);
	// done holds the lines of the records of it acknowledged so far.
	buf      []pending
	bufBytes int
	bufSince time.Time
	done     []line

	mu          sync.Mutex
	stats       FlowStats
	truncations int
}

// pending is a processed record waiting in the buffer, with where it came from.
type pending struct {
	entry engine.PutRecordsEntry
	src   line
}

func (fr *flowRun) run(ctx context.Context) error {
	defer fr.tail.close()
	ticker := time.NewTicker(fr.flow.PollInterval)
	defer ticker.Stop()
	for {
		more, err := fr.step(ctx)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			if len(fr.buf) > 0 {
				return fr.send(sctx)
			}
			return nil
		}
		if more {
			continue // a backlog: read on without waiting
		}
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
}

// step reads what the files have (up to a buffer's worth), sends the
// buffer when it is due, and reports whether more is waiting.
func (fr *flowRun) step(ctx context.Context) (more bool, err error) {
	first := fr.tail.first
	if err := fr.tail.scan(); err != nil {
		return false, fmt.Errorf("flow %s: %w", fr.key, err)
	}
	if first {
		// Keep the starting positions (END_OF_FILE's above all): a restart
		// before anything was sent starts from them, not from a later end.
		if err := fr.agent.ckpt.save(fr.key, fr.tail.checkpoints(), fr.agent.now()); err != nil {
			return false, err
		}
	}
	room := fr.flow.MaxBufferRecords - len(fr.buf)
	lines, err := fr.tail.read(room)
	for _, ev := range fr.tail.takeEvents() {
		fr.events(ev)
	}
	if err != nil {
		fr.fail(err)
	}
	for _, l := range lines {
		fr.add(l)
	}
	full := len(fr.buf) >= fr.flow.MaxBufferRecords || fr.bufBytes >= fr.flow.MaxBufferBytes
	old := len(fr.buf) > 0 && fr.agent.now().Sub(fr.bufSince) >= fr.flow.MaxBufferAge
	onlySkipped := len(fr.buf) == 0 && len(fr.done) > 0
	if full || old || onlySkipped {
		if err := fr.send(ctx); err != nil {
			return false, err
		}
	}
	fr.tail.forget()
	b, n := fr.tail.behind()
	fr.mu.Lock()
	fr.stats.Files, fr.stats.BytesBehind, fr.stats.FilesBehind = len(fr.tail.files), b, n
	fr.truncations = fr.tail.truncations
	fr.mu.Unlock()
	return full && len(lines) > 0, nil
}

// add processes one line into the buffer.
func (fr *flowRun) add(l line) {
	data := l.data
	for _, p := range fr.flow.Processing {
		var ok bool
		if data, ok = p.Process(data); !ok {
			fr.count(func(s *FlowStats) { s.Parsed++; s.Skipped++ })
			fr.done = append(fr.done, l) // checkpointed with the next buffer
			return
		}
	}
	key := fr.partitionKey(data)
	truncated := false
	if limit := maxRecordBytes - len(key); len(data) > limit {
		term := fr.flow.TruncatedRecordTerminator
		data = append(data[:max(0, limit-len(term))], term...)
		truncated = true
	}
	fr.count(func(s *FlowStats) {
		s.Parsed++
		if truncated {
			s.Truncated++
		}
	})
	if len(fr.buf) == 0 {
		fr.bufSince = fr.agent.now()
	}
	fr.buf = append(fr.buf, pending{engine.PutRecordsEntry{Data: data, PartitionKey: key}, l})
	fr.bufBytes += len(data) + len(key)
}

func (fr *flowRun) partitionKey(data []byte) string {
	switch fr.flow.PartitionKey {
	case PartitionKeyDeterministic:
		sum := md5.Sum(data)
		return hex.EncodeToString(sum[:])
	case PartitionKeyFieldOption:
		var obj map[string]any
		if json.Unmarshal(data, &obj) == nil {
			switch v := obj[fr.flow.PartitionKeyField].(type) {
			case string:
				if v != "" && len(v) <= 256 {
					return v
				}
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
	}
	return strconv.FormatFloat(rand.Float64()*1e6, 'f', -1, 64)
}

// send delivers the whole buffer: PutRecords calls of at most 500 records
// and 5 MiB, the refused records sent again with backoff until every one
// is in, then the checkpoint.
func (fr *flowRun) send(ctx context.Context) error {
	backoff := fr.flow.RetryInitial
	for len(fr.buf) > 0 {
		// (An empty buffer with skipped lines only moves the checkpoint.)
		batch := takeBatch(fr.buf, fr.limiterBurst())
		if fr.limiter != nil {
			if err := fr.limiter.WaitN(ctx, len(batch)); err != nil {
				return nil // ctx ended: the rest goes in the shutdown send
			}
		}
		entries := make([]engine.PutRecordsEntry, len(batch))
		for i, p := range batch {
			entries[i] = p.entry
		}
		out, err := fr.agent.sink.PutRecords(ctx, engine.PutRecordsInput{
			StreamRef: engine.StreamRef{StreamName: fr.flow.Stream},
			Records:   entries,
		})
		if err != nil || len(out.Records) != len(batch) {
			if err == nil {
				err = fmt.Errorf("%d results for %d records", len(out.Records), len(batch))
			}
			text := err.Error()
			var changed bool
			fr.count(func(s *FlowStats) {
				changed = s.LastError != text
				s.CallErrors++
				s.LastError = text
			})
			if changed {
				// Told once per new error; it is retried with backoff.
				fr.events(fmt.Sprintf("flow %s: PutRecords failed, retrying: %s", fr.key, text))
			}
			if !fr.sleep(ctx, &backoff) {
				return nil
			}
			continue
		}
		var failed []pending
		var sentBytes int64
		for i, r := range out.Records {
			if r.ErrorCode != "" {
				failed = append(failed, batch[i])
				continue
			}
			sentBytes += int64(len(batch[i].entry.Data))
			fr.bufBytes -= len(batch[i].entry.Data) + len(batch[i].entry.PartitionKey)
			fr.done = append(fr.done, batch[i].src)
		}
		sent := len(batch) - len(failed)
		fr.count(func(s *FlowStats) {
			s.Sent += int64(sent)
			s.BytesSent += sentBytes
			s.Resent += int64(len(failed))
			s.LastSend = fr.agent.now()
			if len(failed) > 0 {
				r := out.Records[indexOfFailure(out.Records)]
				s.LastError = string(r.ErrorCode) + ": " + r.ErrorMessage
			}
		})
		// The refused go first in the next call, ahead of what was not
		// tried yet, so a file's records keep their order as far as
		// PutRecords allows.
		fr.buf = append(failed, fr.buf[len(batch):]...)
		if len(failed) > 0 {
			if !fr.sleep(ctx, &backoff) {
				return nil
			}
		} else {
			backoff = fr.flow.RetryInitial
		}
	}
	fr.tail.acknowledged(fr.done)
	fr.buf, fr.bufBytes, fr.done = nil, 0, nil
	return fr.agent.ckpt.save(fr.key, fr.tail.checkpoints(), fr.agent.now())
}

func indexOfFailure(rs []engine.PutRecordsResult) int {
	for i, r := range rs {
		if r.ErrorCode != "" {
			return i
		}
	}
	return 0
}

// takeBatch is the longest prefix of todo that fits one PutRecords call
// (and the rate limiter's burst).
func takeBatch(todo []pending, limit int) []pending {
	n, size := 0, 0
	for n < len(todo) && n < limit {
		s := len(todo[n].entry.Data) + len(todo[n].entry.PartitionKey)
		if n > 0 && size+s > producers.MaxBatchBytes {
			break
		}
		size += s
		n++
	}
	return todo[:n]
}

func (fr *flowRun) limiterBurst() int {
	if fr.limiter == nil {
		return producers.MaxBatchRecords
	}
	return fr.limiter.Burst()
}

// sleep waits the backoff (with jitter) and doubles it; false when ctx ended.
func (fr *flowRun) sleep(ctx context.Context, backoff *time.Duration) bool {
	d := *backoff/2 + rand.N(*backoff/2+1)
	*backoff = min(2**backoff, fr.flow.RetryMax)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (fr *flowRun) fail(err error) {
	fr.count(func(s *FlowStats) { s.LastError = err.Error() })
	fr.events(fmt.Sprintf("flow %s: %v", fr.key, err))
}

func (fr *flowRun) count(fn func(*FlowStats)) {
	fr.mu.Lock()
	fn(&fr.stats)
	fr.mu.Unlock()
}
