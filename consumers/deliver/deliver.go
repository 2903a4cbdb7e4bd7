package deliver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// Settings are a delivery stream's buffering and output format.
type Settings struct {
	// Name names the delivery stream in object keys. Default "<stream>-delivery".
	Name string
	// BufferSizeMiB (1–128, default 5) and BufferInterval (0–900 s; 0
	// delivers what each read brings; the command's default is Firehose's
	// 300 s): a shard's buffer is delivered when either is reached.
	BufferSizeMiB  int
	BufferInterval time.Duration
	// GZIP compresses each object (".gz" is appended to its key).
	GZIP bool
	// NoDelimiter concatenates records byte for byte, as Firehose does
	// without its AppendDelimiterToRecord processor; the default ends each
	// record with a newline unless it already ends with one.
	NoDelimiter bool
	// Prefix is Firehose's S3 Prefix (with !{timestamp:…} expressions);
	// "" is "YYYY/MM/dd/HH/".
	Prefix string
	// RetryInitial and RetryMax bound the wait between delivery attempts.
	RetryInitial, RetryMax time.Duration
}

// Firehose's limits and defaults for BufferingHints.
const (
	DefaultBufferSizeMiB  = 5
	DefaultBufferInterval = 300 * time.Second
	maxBufferSizeMiB      = 128
	maxBufferInterval     = 900 * time.Second
	defaultRetryInitial   = time.Second
	defaultRetryMax       = 30 * time.Second
	// backlogFactor × the buffer size may wait while the destination is
	// away; past it the shard pauses (its reader is held back).
	backlogFactor = 4
)

// check fills the defaults and refuses what Firehose refuses.
func (s *Settings) check(stream string) error {
	if s.Name == "" {
		s.Name = stream + "-delivery"
	}
	switch {
	case s.BufferSizeMiB == 0:
		s.BufferSizeMiB = DefaultBufferSizeMiB
	case s.BufferSizeMiB < 1 || s.BufferSizeMiB > maxBufferSizeMiB:
		return fmt.Errorf("ValidationException: buffer size %d MiB is outside 1–%d", s.BufferSizeMiB, maxBufferSizeMiB)
	}
	switch {
	case s.BufferInterval < 0 || s.BufferInterval > maxBufferInterval:
		return fmt.Errorf("ValidationException: buffer interval %v is outside 0–900 s", s.BufferInterval)
	case s.BufferInterval%time.Second != 0:
		return fmt.Errorf("ValidationException: buffer interval %v is not whole seconds", s.BufferInterval)
	}
	if s.RetryInitial <= 0 {
		s.RetryInitial = defaultRetryInitial
	}
	if s.RetryMax < s.RetryInitial {
		s.RetryMax = max(defaultRetryMax, s.RetryInitial)
	}
	if _, err := parsePrefix(s.Prefix); err != nil {
		return fmt.Errorf("ValidationException: prefix %q: %w", s.Prefix, err)
	}
	return nil
}

// Batch is one shard's buffer on its way to the destination.
type Batch struct {
	Stream, ShardID string
	Records         []consumers.UserRecord
	// Key is the object key (the path under a directory), from the
	// settings' prefix and the batch's shard and first record.
	Key string
	// Body is the records as the object holds them: delimited, perhaps
	// compressed.
	Body []byte
}

// Destination receives batches. Deliver must be idempotent for a batch
// with the same key (a crash can deliver it again, perhaps with more or
// fewer records at its end).
type Destination interface {
	// Deliver writes the batch; an error means nothing of it may be taken
	// as delivered, and the batch is tried again.
	Deliver(ctx context.Context, b Batch) (Result, error)
	// String names the destination for the console ("file:///tmp/out").
	String() string
	Close() error
}

// Result is what a delivery wrote.
type Result struct {
	// Rows written (PostgreSQL) or 1 per object; Skipped records were in
	// already (a PostgreSQL checkpoint said so).
	Rows, Skipped int
}

// Stats are a delivery stream's counters for the console.
type Stats struct {
	Destination string
	// Records and bytes (of record data) delivered; Objects is objects or
	// files written, Rows rows loaded.
	Records, Bytes, Objects, Rows int64
	// Skipped records were found in the destination already.
	Skipped int64
	// Buffered bytes wait in shard buffers, against the buffer size.
	Buffered, BufferSize int64
	// Failures counts failed delivery attempts.
	Failures     int64
	LastDelivery time.Time
	LastError    string
}

// Deliverer is the processor side of a delivery stream: run it as a
// consumers App with NewApp.
type Deliverer struct {
	stream string
	set    Settings
	dest   Destination
	clock  engine.Clock
	ctx    context.Context

	mu    sync.Mutex
	stats Stats
	fill  map[string]int64
}

// NewApp returns the consumer application that delivers stream to dest.
// cfg is the App's reading configuration (its AutoCheckpoint is turned
// off: checkpoints follow deliveries); ctx bounds the deliveries and should
// be the context the App runs with.
func NewApp(ctx context.Context, name, stream string, set Settings, dest Destination, src consumers.Source, cps consumers.CheckpointStore, cfg consumers.Config) (*consumers.App, *Deliverer, error) {
	if err := set.check(stream); err != nil {
		return nil, nil, err
	}
	cfg.AutoCheckpoint = false
	clock := cfg.Clock
	if clock == nil {
		clock = engine.SystemClock{}
	}
	d := &Deliverer{stream: stream, set: set, dest: dest, clock: clock, ctx: ctx, fill: map[string]int64{}}
	d.stats.Destination = dest.String()
	d.stats.BufferSize = int64(set.BufferSizeMiB) << 20
	app := consumers.NewRecordApp(name, stream, func() consumers.RecordProcessor { return &shardBuffer{d: d} }, src, cps, cfg)
	return app, d, nil
}

// Stats returns the delivery stream's counters.
func (d *Deliverer) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	for _, n := range d.fill {
		s.Buffered += n
	}
	return s
}

func (d *Deliverer) note(fn func(*Stats)) {
	d.mu.Lock()
	fn(&d.stats)
	d.mu.Unlock()
}

// shardBuffer buffers one shard's records between deliveries.
type shardBuffer struct {
	d       *Deliverer
	shard   string
	recs    []consumers.UserRecord
	bytes   int
	since   time.Time // when the oldest buffered record came
	retryAt time.Time // no attempt before this after a failure
	backoff time.Duration
}

var errBacklog = errors.New("the destination is not taking deliveries and the buffer is full: the shard waits")

func (b *shardBuffer) Initialize(shardID string, _ consumers.ExtendedSequenceNumber) error {
	b.shard = shardID
	return nil
}

var _ consumers.IdleProcessor = (*shardBuffer)(nil)

// ProcessIdle delivers a buffer whose interval is up although nothing new
// came.
func (b *shardBuffer) ProcessIdle(_ string, cp consumers.Checkpointer) error {
	return b.ProcessRecords(consumers.ProcessRecordsInput{ShardID: b.shard}, cp)
}

func (b *shardBuffer) ProcessRecords(in consumers.ProcessRecordsInput, cp consumers.Checkpointer) error {
	size := b.d.set.BufferSizeMiB << 20
	if len(in.Records) > 0 && b.bytes >= backlogFactor*size {
		// The destination is away and the backlog is full: refuse the
		// batch; the reader offers it again later.
		if !b.due() || !b.flush(cp) {
			return errBacklog
		}
	}
	if len(in.Records) > 0 && len(b.recs) == 0 {
		b.since = b.d.clock.Now()
	}
	for _, r := range in.Records {
		b.recs = append(b.recs, r)
		b.bytes += len(r.Data)
	}
	b.d.mu.Lock()
	b.d.fill[b.shard] = int64(b.bytes)
	b.d.mu.Unlock()
	if len(b.recs) == 0 || !b.due() {
		return nil
	}
	if b.bytes >= size || b.d.clock.Now().Sub(b.since) >= b.d.set.BufferInterval {
		b.flush(cp)
	}
	return nil
}

// due reports whether a failed delivery's backoff has passed.
func (b *shardBuffer) due() bool { return !b.d.clock.Now().Before(b.retryAt) }

func (b *shardBuffer) Shutdown(reason consumers.ShutdownReason, cp consumers.Checkpointer) {
	switch reason {
	case consumers.ShutdownShardEnded:
		// Children are read once the parent checkpoints its end: deliver
		// everything first, trying until it works or the App stops.
		for len(b.recs) > 0 && !b.flush(cp) {
			if !sleepCtx(b.d.ctx, b.backoff) {
				return
			}
		}
		if err := cp.Checkpoint(); err != nil {
			b.d.note(func(s *Stats) { s.LastError = "checkpoint: " + err.Error() })
		}
	case consumers.ShutdownRequested:
		if len(b.recs) > 0 {
			b.flush(cp)
		}
	}
	b.d.mu.Lock()
	delete(b.d.fill, b.shard)
	b.d.mu.Unlock()
}

// flush delivers the buffer and checkpoints its last record; false when
// the destination failed (the buffer is kept for the next attempt).
func (b *shardBuffer) flush(cp consumers.Checkpointer) bool {
	batch, err := b.batch()
	if err == nil {
		var res Result
		res, err = b.d.dest.Deliver(b.d.ctx, batch)
		if err == nil {
			last := b.recs[len(b.recs)-1]
			err = cp.CheckpointAt(last.SequenceNumber, last.SubSequenceNumber)
			if errors.Is(err, consumers.ErrLeaseLost) {
				// Another worker reads on from the last checkpoint.
				b.clear()
				return true
			}
			if err != nil {
				// Delivered but not checkpointed: keep the batch and deliver
				// it again (same key: it replaces the object) before anything
				// newer, so at most one object of the shard is ahead of its
				// checkpoint.
				err = fmt.Errorf("checkpoint: %w", err)
			}
		}
		if err == nil {
			n, nb := int64(len(b.recs)), int64(b.bytes)
			b.d.note(func(s *Stats) {
				s.Records += n - int64(res.Skipped)
				s.Bytes += nb
				s.Objects++
				s.Rows += int64(res.Rows)
				s.Skipped += int64(res.Skipped)
				s.LastDelivery = b.d.clock.Now()
			})
			b.clear()
			return true
		}
	}
	b.backoff = min(max(2*b.backoff, b.d.set.RetryInitial), b.d.set.RetryMax)
	wait := b.backoff/2 + rand.N(b.backoff/2+1)
	b.retryAt = b.d.clock.Now().Add(wait)
	b.d.note(func(s *Stats) { s.Failures++; s.LastError = err.Error() })
	return false
}

func (b *shardBuffer) clear() {
	b.recs, b.bytes, b.backoff, b.retryAt = nil, 0, 0, time.Time{}
	b.d.mu.Lock()
	b.d.fill[b.shard] = 0
	b.d.mu.Unlock()
}

// batch builds the object of the buffered records.
func (b *shardBuffer) batch() (Batch, error) {
	key, err := objectKey(b.d.set, b.d.stream, b.shard, b.recs[0])
	if err != nil {
		return Batch{}, err
	}
	var body bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
	} = &body
	var gz *gzip.Writer
	if b.d.set.GZIP {
		gz = gzip.NewWriter(&body)
		w = gz
	}
	for _, r := range b.recs {
		w.Write(r.Data)
		if !b.d.set.NoDelimiter && (len(r.Data) == 0 || r.Data[len(r.Data)-1] != '\n') {
			w.Write([]byte{'\n'})
		}
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return Batch{}, err
		}
	}
	return Batch{Stream: b.d.stream, ShardID: b.shard, Records: b.recs, Key: key, Body: body.Bytes()}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(max(d, 10*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
