package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardscope/shardscope/storage"
	"golang.org/x/time/rate"
)

// stream is one stream's state. Its fields are guarded by Engine.mu: read
// under RLock on the data plane, changed under Lock by control actions.
type stream struct {
	name      string
	created   time.Time
	mode      StreamMode
	retention int // hours
	tags      map[string]string
	policy    string // resource policy document, "" when none (policy.go)

	readyAt       time.Time // CREATING until then
	updatingUntil time.Time // UPDATING until then
	deleting      bool
	deleteAt      time.Time

	shards         []*shard // every unexpired shard, by index
	nextShardIndex uint32
	scalings       []time.Time // UpdateShardCount calls, for the 10-per-24h rule
	modeSwitches   []time.Time // UpdateStreamMode calls, for the 2-per-24h rule

	metrics      []string // enhanced-monitoring metrics, in ShardLevelMetrics order (settings.go)
	maxRecordKiB int      // record size limit; 0 means DefaultMaxRecordSizeKiB
	warmMiBps    int      // ON_DEMAND warm throughput target; 0 when none

	pending   []reshardOp          // reshards that take effect when UPDATING ends (pending.go)
	consumers map[string]*consumer // enhanced fan-out consumers by name (efo.go)
	scale     *scalerState         // the on-demand scaler's memory (scaler.go)
	enc       streamEnc            // encryption at rest (encryption.go)
}

// status derives the lifecycle state from the clock, so delays need no timers.
func (s *stream) status(now time.Time) StreamStatus {
	switch {
	case s.deleting:
		return StatusDeleting
	case now.Before(s.readyAt):
		return StatusCreating
	case now.Before(s.updatingUntil):
		return StatusUpdating
	}
	return StatusActive
}

// shardByID finds a shard by any id the service accepts for it (see
// ParseShardID).
func (s *stream) shardByID(id string) *shard {
	idx, ok := ParseShardID(id)
	if !ok {
		return nil
	}
	return s.shardByIndex(idx)
}

// ParseShardID reads a shard id the way the service does: only the number
// after the last '-' counts (the whole id when there is none), so
// "shardId-0", "shard-0", "0" and "anything-000" all name
// shardId-000000000000. It fails for an id whose number is missing, not
// decimal, or above 2^31-1.
func ParseShardID(id string) (uint32, bool) {
	num := id[strings.LastIndexByte(id, '-')+1:]
	if num == "" {
		return 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return uint32(n), true
}

// CanonicalShardID returns the service's spelling of a shard id
// (shardId-000000000000) and whether the id names a shard at all.
func CanonicalShardID(id string) (string, bool) {
	idx, ok := ParseShardID(id)
	if !ok {
		return id, false
	}
	return shardID(idx), true
}

func (s *stream) shardByIndex(idx uint32) *shard {
	i := sort.Search(len(s.shards), func(i int) bool { return s.shards[i].index >= idx })
	if i < len(s.shards) && s.shards[i].index == idx {
		return s.shards[i]
	}
	return nil
}

// openShards returns the open shards in hash-key order.
func (s *stream) openShards() []*shard {
	var out []*shard
	for _, sh := range s.shards {
		if !sh.isClosed() {
			out = append(out, sh)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rng.Start.Cmp(out[j].rng.Start) < 0 })
	return out
}

// route returns the open shard whose range holds h. Open shards always
// cover the whole key space, so it finds one.
func (s *stream) route(open []*shard, h HashKey) *shard {
	i := sort.Search(len(open), func(i int) bool { return open[i].rng.End.Cmp(h) >= 0 })
	if i == len(open) {
		return nil
	}
	return open[i]
}

func (s *stream) children(id string) []ChildShard {
	var out []ChildShard
	for _, sh := range s.shards {
		if sh.parent == id || sh.adjacent == id {
			out = append(out, ChildShard{ShardID: sh.id, ParentShards: sh.parents(), HashKeyRange: sh.rng})
		}
	}
	return out
}

func shardID(idx uint32) string { return fmt.Sprintf("shardId-%012d", idx) }

// shard is one shard. Identity and range never change; the write side
// (positions, closing) is guarded by mu; counters are atomics.
type shard struct {
	index    uint32
	id       string
	ref      storage.ShardRef
	rng      HashKeyRange
	parent   string
	adjacent string
	created  time.Time
	initial  bool // one of the stream's first shards

	mu          sync.Mutex
	closed      bool
	closedAt    time.Time
	endingPos   uint64 // last position assigned before closing
	nextPos     uint64 // next position to assign
	lastArrival int64  // ms; arrivals never go back within a shard
	inflight    []*span
	subs        map[*Subscription]struct{}

	visible atomic.Uint64 // positions below it are committed (or failed) and readable
	wake    atomic.Pointer[chan struct{}]

	records atomic.Int64
	bytes   atomic.Int64
	oldest  atomic.Int64 // arrival ms of the oldest record, 0 when empty

	writeBytes, writeRecords *rate.Limiter
	readBytes, readCalls     *rate.Limiter
	iteratorCalls            *rate.Limiter
	metrics                  shardMetrics
	fanout                   shardMetrics // enhanced fan-out reads, all consumers
	lastThrottleEvent        atomic.Int64
}

// span is a run of positions handed to storage and not yet settled.
type span struct {
	first, last uint64
	done        bool
	ok          bool
	records     []Record // for taps; nil when none was attached
	hashes      []HashKey
	count       int64 // records in the span
	bytes       int64 // their payload bytes
	arrival     int64
}

func (sh *shard) isClosed() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.closed
}

func (sh *shard) parents() []string {
	var out []string
	if sh.parent != "" {
		out = append(out, sh.parent)
	}
	if sh.adjacent != "" {
		out = append(out, sh.adjacent)
	}
	return out
}

// describe returns the shard as the API reports it.
func (sh *shard) describe() Shard {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	out := Shard{
		ShardID:                sh.id,
		ParentShardID:          sh.parent,
		AdjacentParentShardID:  sh.adjacent,
		HashKeyRange:           sh.rng,
		StartingSequenceNumber: formatSeq(sh.index, 0),
	}
	if sh.closed {
		out.EndingSequenceNumber = formatSeq(sh.index, sh.endingPos)
	}
	return out
}

// waitChan returns a channel closed at the next commit on this shard.
func (sh *shard) waitChan() <-chan struct{} {
	for {
		if p := sh.wake.Load(); p != nil {
			return *p
		}
		c := make(chan struct{})
		if sh.wake.CompareAndSwap(nil, &c) {
			return c
		}
	}
}

func (sh *shard) notify() {
	if p := sh.wake.Swap(nil); p != nil {
		close(*p)
	}
}

// Persistence: one JSON document per stream in the "streams" meta bucket.

const streamsBucket = "streams"

type streamMeta struct {
	Name           string            `json:"name"`
	Created        int64             `json:"created_ms"`
	Mode           StreamMode        `json:"mode"`
	Retention      int               `json:"retention_hours"`
	Tags           map[string]string `json:"tags,omitempty"`
	Policy         string            `json:"resource_policy,omitempty"`
	ReadyAt        int64             `json:"ready_ms"`
	UpdatingUntil  int64             `json:"updating_until_ms"`
	Deleting       bool              `json:"deleting,omitempty"`
	DeleteAt       int64             `json:"delete_ms,omitempty"`
	NextShardIndex uint32            `json:"next_shard_index"`
	Scalings       []int64           `json:"scalings_ms,omitempty"`
	ModeSwitches   []int64           `json:"mode_switches_ms,omitempty"`
	Shards         []shardMeta       `json:"shards"`
	Consumers      []consumerMeta    `json:"consumers,omitempty"`
	Scaler         *scalerMeta       `json:"scaler,omitempty"`
	Metrics        []string          `json:"enhanced_metrics,omitempty"`
	MaxRecordKiB   int               `json:"max_record_kib,omitempty"`
	WarmMiBps      int               `json:"warm_mibps,omitempty"`
	Pending        []reshardOp       `json:"pending,omitempty"`
	Encryption     *encMeta          `json:"encryption,omitempty"`
}

type shardMeta struct {
	Index    uint32 `json:"index"`
	Parent   string `json:"parent,omitempty"`
	Adjacent string `json:"adjacent,omitempty"`
	Start    string `json:"start"`
	End      string `json:"end"`
	Created  int64  `json:"created_ms"`
	Initial  bool   `json:"initial,omitempty"`
	Closed   bool   `json:"closed,omitempty"`
	ClosedAt int64  `json:"closed_ms,omitempty"`
	Ending   uint64 `json:"ending_pos,omitempty"`
	// NextPos is a lower bound of the next position, kept so that positions
	// never repeat after retention has emptied the shard.
	NextPos uint64 `json:"next_pos"`
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func (s *stream) meta() streamMeta {
	m := streamMeta{
		Name: s.name, Created: ms(s.created), Mode: s.mode, Retention: s.retention, Tags: s.tags, Policy: s.policy,
		ReadyAt: ms(s.readyAt), UpdatingUntil: ms(s.updatingUntil), Deleting: s.deleting, DeleteAt: ms(s.deleteAt),
		NextShardIndex: s.nextShardIndex, Metrics: s.metrics, MaxRecordKiB: s.maxRecordKiB, WarmMiBps: s.warmMiBps,
	}
	for _, t := range s.scalings {
		m.Scalings = append(m.Scalings, ms(t))
	}
	for _, t := range s.modeSwitches {
		m.ModeSwitches = append(m.ModeSwitches, ms(t))
	}
	for _, sh := range s.shards {
		sh.mu.Lock()
		m.Shards = append(m.Shards, shardMeta{
			Index: sh.index, Parent: sh.parent, Adjacent: sh.adjacent,
			Start: sh.rng.Start.String(), End: sh.rng.End.String(), Created: ms(sh.created), Initial: sh.initial,
			Closed: sh.closed, ClosedAt: ms(sh.closedAt), Ending: sh.endingPos, NextPos: sh.nextPos,
		})
		sh.mu.Unlock()
	}
	m.Pending = s.pending
	m.Consumers = s.consumerMetas()
	m.Scaler = s.scalerMeta()
	m.Encryption = s.encMeta()
	return m
}

func (e *Engine) saveStream(s *stream) error {
	b, err := json.Marshal(s.meta())
	if err != nil {
		return internalError(err)
	}
	if err := e.db.PutMeta(streamsBucket, s.name, b); err != nil {
		return internalError(err)
	}
	return nil
}

// loadStream rebuilds a stream from its document and what storage holds.
func (e *Engine) loadStream(b []byte) (*stream, error) {
	var m streamMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("stream metadata: %w", err)
	}
	s := &stream{
		name: m.Name, created: fromMs(m.Created), mode: m.Mode, retention: m.Retention, tags: m.Tags, policy: m.Policy,
		readyAt: fromMs(m.ReadyAt), updatingUntil: fromMs(m.UpdatingUntil), deleting: m.Deleting, deleteAt: fromMs(m.DeleteAt),
		nextShardIndex: m.NextShardIndex, metrics: m.Metrics, maxRecordKiB: m.MaxRecordKiB, warmMiBps: m.WarmMiBps,
		pending: m.Pending,
	}
	if s.tags == nil {
		s.tags = map[string]string{}
	}
	e.loadEnc(s, m.Encryption)
	for _, v := range m.Scalings {
		s.scalings = append(s.scalings, fromMs(v))
	}
	for _, v := range m.ModeSwitches {
		s.modeSwitches = append(s.modeSwitches, fromMs(v))
	}
	for _, sm := range m.Shards {
		start, ok1 := ParseHashKey(sm.Start)
		end, ok2 := ParseHashKey(sm.End)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("stream %s shard %d: bad hash range", m.Name, sm.Index)
		}
		sh := e.newShard(s.name, sm.Index, HashKeyRange{Start: start, End: end}, sm.Parent, sm.Adjacent, fromMs(sm.Created))
		sh.initial = sm.Initial
		sh.closed, sh.closedAt, sh.endingPos = sm.Closed, fromMs(sm.ClosedAt), sm.Ending
		if err := e.recoverShard(sh, sm.NextPos); err != nil {
			return nil, err
		}
		s.shards = append(s.shards, sh)
	}
	sort.Slice(s.shards, func(i, j int) bool { return s.shards[i].index < s.shards[j].index })
	s.loadConsumers(m.Consumers)
	s.loadScaler(m.Scaler)
	return s, nil
}

// recoverShard sets a shard's counters from what is on disk.
func (e *Engine) recoverShard(sh *shard, metaNext uint64) error {
	first, last, ok, err := e.db.Bounds(sh.ref)
	if err != nil {
		return err
	}
	next := max(metaNext, 1)
	if ok {
		next = max(next, last+1)
		recs, err := e.db.Read(sh.ref, last, 1, 0)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			sh.lastArrival = recs[0].Arrival
		}
		head, _, err := e.db.Head(sh.ref)
		if err != nil {
			return err
		}
		sh.oldest.Store(head.Arrival)
		_ = first
	}
	sh.nextPos = next
	sh.visible.Store(next)
	n, b, err := e.db.Stats(sh.ref)
	if err != nil {
		return err
	}
	sh.records.Store(n)
	sh.bytes.Store(b)
	return nil
}
