package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// errNoLapse: time-lapse moves the embedded engine's clock only.
var errNoLapse = errors.New("time-lapse moves the embedded engine's clock; a remote stream keeps its own time")

// confirmed reports whether the same call was asked for within
// ConfirmWithin; if not it arms the confirmation and returns the sentence
// asking for it. Writes are refused outright on a read-only console.
func (b *Backend) confirmed(key, call string) (ask string, ok bool, err error) {
	if !b.c.AllowsWrites() {
		op, _, _ := strings.Cut(call, "(")
		return "", false, fmt.Errorf("%s not sent: %w", op, remote.ErrReadOnly)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if at, armed := b.confirm[key]; armed && now.Sub(at) <= b.cfg.ConfirmWithin {
		delete(b.confirm, key)
		return "", true, nil
	}
	b.confirm[key] = now
	return fmt.Sprintf("confirm: press the same key again within %s to call %s", b.cfg.ConfirmWithin, call), false, nil
}

func (b *Backend) ref(stream string) engine.StreamRef { return engine.StreamRef{StreamName: stream} }

func (b *Backend) actx() (context.Context, context.CancelFunc) {
	parent := b.ctx
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, 30*time.Second)
}

// SplitShard splits at the middle of the shard's hash-key range, after
// confirmation.
func (b *Backend) SplitShard(stream, shardID string) (string, error) {
	b.mu.Lock()
	var rng *engine.HashKeyRange
	for i := range b.shards {
		if b.shards[i].ShardID == shardID && b.shards[i].Open() {
			rng = &b.shards[i].HashKeyRange
		}
	}
	b.mu.Unlock()
	if rng == nil {
		return "", fmt.Errorf("%s is not an open shard of %s", shardID, stream)
	}
	at := engine.MidpointKey(*rng)
	call := fmt.Sprintf("SplitShard(StreamName=%s, ShardToSplit=%s, NewStartingHashKey=%s)", stream, shardID, at)
	if ask, ok, err := b.confirmed("split "+shardID, call); !ok {
		return ask, err
	}
	ctx, cancel := b.actx()
	defer cancel()
	if err := b.c.SplitShard(ctx, engine.SplitShardInput{StreamRef: b.ref(stream), ShardToSplit: shardID, NewStartingHashKey: at}); err != nil {
		return "", err
	}
	b.refreshNow()
	return "sent " + call, nil
}

// MergeShards merges two adjacent shards after confirmation.
func (b *Backend) MergeShards(stream, shardID, adjacentShardID string) (string, error) {
	call := fmt.Sprintf("MergeShards(StreamName=%s, ShardToMerge=%s, AdjacentShardToMerge=%s)", stream, shardID, adjacentShardID)
	if ask, ok, err := b.confirmed("merge "+shardID+" "+adjacentShardID, call); !ok {
		return ask, err
	}
	ctx, cancel := b.actx()
	defer cancel()
	if err := b.c.MergeShards(ctx, engine.MergeShardsInput{StreamRef: b.ref(stream), ShardToMerge: shardID, AdjacentShardToMerge: adjacentShardID}); err != nil {
		return "", err
	}
	b.refreshNow()
	return "sent " + call, nil
}

// SetRetention changes the retention after confirmation.
func (b *Backend) SetRetention(stream string, hours int) (string, error) {
	b.mu.Lock()
	cur := b.sum.RetentionPeriodHours
	b.mu.Unlock()
	op := "IncreaseStreamRetentionPeriod"
	if hours < cur {
		op = "DecreaseStreamRetentionPeriod"
	}
	call := fmt.Sprintf("%s(StreamName=%s, RetentionPeriodHours=%d)", op, stream, hours)
	if ask, ok, err := b.confirmed("retention", call); !ok {
		return ask, err
	}
	ctx, cancel := b.actx()
	defer cancel()
	in := engine.RetentionInput{StreamRef: b.ref(stream), RetentionPeriodHours: hours}
	var err error
	if hours < cur {
		err = b.c.DecreaseStreamRetentionPeriod(ctx, in)
	} else {
		err = b.c.IncreaseStreamRetentionPeriod(ctx, in)
	}
	if err != nil {
		return "", err
	}
	b.refreshNow()
	return "sent " + call, nil
}

// TimeLapse is not possible on a remote stream.
func (b *Backend) TimeLapse(time.Duration) (string, error) { return "", errNoLapse }

// ToggleCapacityMode switches PROVISIONED ↔ ON_DEMAND after confirmation.
func (b *Backend) ToggleCapacityMode(stream string) (string, error) {
	b.mu.Lock()
	arn, mode := b.sum.StreamARN, b.sum.StreamMode
	b.mu.Unlock()
	to := engine.ModeOnDemand
	if mode == engine.ModeOnDemand {
		to = engine.ModeProvisioned
	}
	call := fmt.Sprintf("UpdateStreamMode(StreamARN=%s, StreamModeDetails={StreamMode=%s})", arn, to)
	if ask, ok, err := b.confirmed("mode", call); !ok {
		return ask, err
	}
	ctx, cancel := b.actx()
	defer cancel()
	if err := b.c.UpdateStreamMode(ctx, engine.UpdateStreamModeInput{StreamARN: arn, Mode: to}); err != nil {
		return "", err
	}
	b.refreshNow()
	return "sent " + call, nil
}

// UpdateShardCount rescales the stream uniformly after confirmation (no
// key drives it yet; kept beside the other writes).
func (b *Backend) UpdateShardCount(stream string, target int) (string, error) {
	call := fmt.Sprintf("UpdateShardCount(StreamName=%s, TargetShardCount=%d, ScalingType=UNIFORM_SCALING)", stream, target)
	if ask, ok, err := b.confirmed("shard count", call); !ok {
		return ask, err
	}
	ctx, cancel := b.actx()
	defer cancel()
	if _, err := b.c.UpdateShardCount(ctx, engine.UpdateShardCountInput{StreamRef: b.ref(stream), TargetShardCount: target}); err != nil {
		return "", err
	}
	b.refreshNow()
	return "sent " + call, nil
}

var errNoProducers = fmt.Errorf("no synthetic producers: %w", remote.ErrReadOnly)

func (b *Backend) producer(name string) (*producers.Producer, error) {
	if b.prods == nil {
		return nil, errNoProducers
	}
	p, ok := b.prods.Get(name)
	if !ok {
		return nil, fmt.Errorf("no producer %q", name)
	}
	return p, nil
}

// ProducerScale changes a producer's rate; the sink's cap still holds.
func (b *Backend) ProducerScale(name string, factor float64) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	r := p.Scale(factor)
	return fmt.Sprintf("%s rate → %.0f records/s (all producers together stay under --max-rate %s/s)", name, r, trimFloat(b.cfg.MaxRate)), nil
}

// ProducerBurst bursts within the cap.
func (b *Backend) ProducerBurst(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	p.Burst(10, 5*time.Second)
	return fmt.Sprintf("%s bursting ×10 for 5 s, capped at --max-rate %s records/s", name, trimFloat(b.cfg.MaxRate)), nil
}

// ProducerToggle starts (after confirmation, naming PutRecords and the
// cost) or stops a producer.
func (b *Backend) ProducerToggle(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.Stats().On {
		p.SetOn(false)
		return name + " off", nil
	}
	call := fmt.Sprintf("PutRecords(StreamName=%s) from %s, all producers capped at %s records/s ≈ $%.4f/hour in PUT payload units",
		b.cfg.Stream, name, trimFloat(b.cfg.MaxRate), putCostPerHour(b.cfg.MaxRate))
	if ask, ok, err := b.confirmed("producer "+name, call); !ok {
		return ask, err
	}
	p.SetOn(true)
	return name + " on: " + call, nil
}

// putCostPerHour prices records/s of small records (one 25 KiB PUT
// payload unit each) at list price.
func putCostPerHour(recordsPerSec float64) float64 {
	return recordsPerSec * 3600 / 1e6 * engine.DefaultPrices.PutUnitsPerMillion
}

// ProducerCycleSkew changes the producer's key skew.
func (b *Backend) ProducerCycleSkew(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s key skew → %s", name, p.CycleSkew()), nil
}

// ProducerToggleAggregate switches KPL aggregation.
func (b *Backend) ProducerToggleAggregate(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.ToggleAggregate() {
		return name + " KPL aggregation on", nil
	}
	return name + " KPL aggregation off", nil
}

var errNoApps = errors.New("consumer applications run on the embedded engine; attached, the console only reads (see --efo)")

// AddConsumer is not offered attached.
func (b *Backend) AddConsumer(string, bool) (string, error) { return "", errNoApps }

// RemoveConsumer is not offered attached.
func (b *Backend) RemoveConsumer(string, string) (string, error) { return "", errNoApps }

// StopWorker is not offered attached.
func (b *Backend) StopWorker(string, string) (string, error) { return "", errNoApps }

// cappedSink is the producers' sink: every PutRecords waits for the
// records' share of a token bucket of MaxRate records/s.
type cappedSink struct {
	c   *remote.Client
	lim *rate.Limiter
}

func newCappedSink(c *remote.Client, maxRate float64) *cappedSink {
	return &cappedSink{c: c, lim: rate.NewLimiter(rate.Limit(maxRate), max(1, int(maxRate)))}
}

func (s *cappedSink) PutRecords(ctx context.Context, in engine.PutRecordsInput) (engine.PutRecordsOutput, error) {
	for n := len(in.Records); n > 0; {
		k := min(n, s.lim.Burst())
		if err := s.lim.WaitN(ctx, k); err != nil {
			return engine.PutRecordsOutput{}, err
		}
		n -= k
	}
	return s.c.PutRecords(ctx, in)
}

func (s *cappedSink) ListShards(ctx context.Context, in engine.ListShardsInput) (engine.ListShardsOutput, error) {
	return s.c.ListShards(ctx, in)
}
