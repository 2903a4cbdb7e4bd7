package engine

import (
	"context"
	"errors"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ConsumerStatus is an enhanced fan-out consumer's lifecycle state.
type ConsumerStatus string

// The consumer states of the service.
const (
	ConsumerCreating ConsumerStatus = "CREATING"
	ConsumerActive   ConsumerStatus = "ACTIVE"
	ConsumerDeleting ConsumerStatus = "DELETING"
)

// EventFanOut is the kind of events about enhanced fan-out consumers.
const EventFanOut EventKind = "fanout"

// Enhanced fan-out limits of the service.
const (
	MaxConsumersPerStream = 20
	MaxConsumersCreating  = 5 // per account
	// FanOutReadBytesPerSec is each consumer's read budget on each shard,
	// independent of the shared GetRecords budget and of other consumers.
	FanOutReadBytesPerSec = 2 << 20
	// SubscriptionLifetime is how long one SubscribeToShard call streams.
	SubscriptionLifetime = 5 * time.Minute
	// SubscribeTakeover: a second call for the same consumer and shard
	// within it of a success is refused; after it, it takes over.
	SubscribeTakeover = 5 * time.Second
	// SubscribeHeartbeat: an idle subscription sends an empty event this
	// often so its ContinuationSequenceNumber keeps moving.
	SubscribeHeartbeat = 5 * time.Second
)

// RegisterConsumerInput is the input of RegisterStreamConsumer.
type RegisterConsumerInput struct {
	StreamARN    string
	ConsumerName string
	Tags         map[string]string
}

// ConsumerRef names a consumer by ConsumerARN, or by StreamARN and
// ConsumerName: the input of DescribeStreamConsumer and
// DeregisterStreamConsumer.
type ConsumerRef struct {
	StreamARN    string
	ConsumerName string
	ConsumerARN  string
}

// Consumer is a registered enhanced fan-out consumer.
type Consumer struct {
	ConsumerName              string
	ConsumerARN               string
	ConsumerStatus            ConsumerStatus
	ConsumerCreationTimestamp time.Time
}

// ConsumerDescription is the output of DescribeStreamConsumer.
type ConsumerDescription struct {
	Consumer
	StreamARN string
}

// ListStreamConsumersInput is the input of ListStreamConsumers.
type ListStreamConsumersInput struct {
	StreamARN  string
	NextToken  string
	MaxResults int // 1–10000, default and cap 100
	// StreamCreationTimestamp, when set, must match the stream's.
	StreamCreationTimestamp time.Time
}

// ListStreamConsumersOutput is the output of ListStreamConsumers, by name.
type ListStreamConsumersOutput struct {
	Consumers []Consumer
	NextToken string
}

// SubscribeToShardInput is the input of SubscribeToShard.
type SubscribeToShardInput struct {
	ConsumerARN      string
	ShardID          string
	StartingPosition StartingPosition
}

// ConsumerSnapshot is one consumer in a Snapshot.
type ConsumerSnapshot struct {
	Name    string
	ARN     string
	Status  ConsumerStatus
	Created time.Time
	// Subscriptions counts the live SubscribeToShard streams.
	Subscriptions int
	// Rate is what the consumer read through fan-out in the last complete
	// second (RecordsOut, BytesOut); Total since the engine started.
	Rate  Rate
	Total Rate
}

// consumer is one registered consumer, guarded by Engine.mu.
type consumer struct {
	name     string
	created  time.Time
	readyAt  time.Time
	deleting bool
	deleteAt time.Time
	tags     map[string]string
	policy   string                 // resource policy document (policy.go)
	links    map[uint32]*fanoutLink // by shard index
	metrics  shardMetrics
}

// fanoutLink is a consumer's state on one shard: its call rate, its read
// budget and its current subscription. Fields other than the limiters are
// guarded by Engine.mu.
type fanoutLink struct {
	calls  *rate.Limiter // SubscribeToShard calls, 1 a second
	budget *rate.Limiter // bytes read, 2 MiB/s
	lastOK time.Time
	active *FanOutSubscription
}

func (c *consumer) status(now time.Time) ConsumerStatus {
	switch {
	case c.deleting:
		return ConsumerDeleting
	case now.Before(c.readyAt):
		return ConsumerCreating
	}
	return ConsumerActive
}

func (c *consumer) gone(now time.Time) bool { return c.deleting && !now.Before(c.deleteAt) }

func (c *consumer) link(idx uint32) *fanoutLink {
	if c.links == nil {
		c.links = map[uint32]*fanoutLink{}
	}
	l := c.links[idx]
	if l == nil {
		l = &fanoutLink{calls: rate.NewLimiter(1, 1), budget: rate.NewLimiter(FanOutReadBytesPerSec, FanOutReadBytesPerSec)}
		c.links[idx] = l
	}
	return l
}

// endSubscriptions ends every live subscription of the consumer with err.
func (c *consumer) endSubscriptions(err *Error) {
	for _, l := range c.links {
		if l.active != nil {
			l.active.end(err)
		}
	}
}

// closeSubscriptions ends the consumer's subscriptions that still stream
// with ErrClosed. e.mu is held.
func (c *consumer) closeSubscriptions() {
	for _, l := range c.links {
		if l.active != nil {
			l.active.endLive(ErrClosed)
		}
	}
}

type consumerMeta struct {
	Name     string            `json:"name"`
	Created  int64             `json:"created_ms"`
	ReadyAt  int64             `json:"ready_ms"`
	Deleting bool              `json:"deleting,omitempty"`
	DeleteAt int64             `json:"delete_ms,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	Policy   string            `json:"resource_policy,omitempty"`
}

func (s *stream) consumerMetas() []consumerMeta {
	var out []consumerMeta
	for _, name := range s.consumerNames() {
		c := s.consumers[name]
		out = append(out, consumerMeta{Name: c.name, Created: ms(c.created), ReadyAt: ms(c.readyAt), Deleting: c.deleting, DeleteAt: ms(c.deleteAt), Tags: c.tags, Policy: c.policy})
	}
	return out
}

func (s *stream) loadConsumers(metas []consumerMeta) {
	for _, m := range metas {
		if s.consumers == nil {
			s.consumers = map[string]*consumer{}
		}
		s.consumers[m.Name] = &consumer{name: m.Name, created: fromMs(m.Created), readyAt: fromMs(m.ReadyAt), deleting: m.Deleting, deleteAt: fromMs(m.DeleteAt), tags: m.Tags, policy: m.Policy}
	}
}

func (s *stream) consumerNames() []string {
	names := make([]string, 0, len(s.consumers))
	for name := range s.consumers {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// liveConsumer returns the named consumer unless it is gone. e.mu is held.
func (s *stream) liveConsumer(name string, now time.Time) *consumer {
	c := s.consumers[name]
	if c == nil || c.gone(now) {
		return nil
	}
	return c
}

// pruneConsumers forgets consumers whose deletion has finished. e.mu is held.
func (s *stream) pruneConsumers(now time.Time) {
	for name, c := range s.consumers {
		if c.gone(now) {
			delete(s.consumers, name)
		}
	}
}

// consumerCount counts a stream's registered consumers. e.mu is held.
func (e *Engine) consumerCount(s *stream) int {
	now := e.clock.Now()
	n := 0
	for _, c := range s.consumers {
		if !c.gone(now) {
			n++
		}
	}
	return n
}

// consumersBlockDelete refuses to delete a stream with consumers unless
// enforced; enforced, it deregisters them. e.mu is held.
func (e *Engine) consumersBlockDelete(s *stream, enforce bool) error {
	if e.consumerCount(s) == 0 {
		return nil
	}
	if !enforce {
		return newError(ResourceInUseException, "Stream %s under account %s has registered consumers. Deregister them or set EnforceConsumerDeletion.", s.name, e.opts.AccountID)
	}
	for _, name := range s.consumerNames() {
		c := s.consumers[name]
		c.endSubscriptions(e.consumerGoneError(s, c))
		delete(s.consumers, name)
		e.event(EventFanOut, s.name, "", "consumer %s deregistered with stream %s", name, s.name)
	}
	return nil
}

func (e *Engine) consumerARN(streamName string, c *consumer) string {
	return e.arn(streamName) + "/consumer/" + c.name + ":" + strconv.FormatInt(c.created.Unix(), 10)
}

func (e *Engine) describeConsumer(s *stream, c *consumer, now time.Time) Consumer {
	return Consumer{ConsumerName: c.name, ConsumerARN: e.consumerARN(s.name, c), ConsumerStatus: c.status(now), ConsumerCreationTimestamp: c.created}
}

func (e *Engine) consumerNotFound(streamName, name string) *Error {
	return newError(ResourceNotFoundException, "Consumer %s under stream %s under account %s not found.", name, streamName, e.opts.AccountID)
}

func (e *Engine) consumerGoneError(s *stream, c *consumer) *Error {
	return newError(ResourceNotFoundException, "Consumer %s under stream %s under account %s has been deregistered.", c.name, s.name, e.opts.AccountID)
}

var consumerARNPattern = regexp.MustCompile(`^(arn):aws.*:kinesis:.*:\d{12}:.*stream/[a-zA-Z0-9_.-]+/consumer/[a-zA-Z0-9_.-]+:[0-9]+$`)

func (v *validator) consumerName(name string) {
	if name == "" {
		return
	}
	v.length(name, "consumerName", 1, 128)
	v.pattern(name, "consumerName", namePattern, namePatternText)
}

func (v *validator) consumerARN(arn string) {
	if arn == "" {
		return
	}
	v.length(arn, "consumerARN", 1, 2048)
	v.pattern(arn, "consumerARN", consumerARNPattern, `^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+`)
}

// parseConsumerARN splits a consumer ARN that matched the pattern into the
// stream ARN it names, the stream, the consumer and its creation second.
func parseConsumerARN(arn string) (streamARN, streamName, name string, epoch int64, ok bool) {
	i := strings.LastIndex(arn, "/consumer/")
	j := strings.LastIndexByte(arn, ':')
	k := strings.Index(arn, ":stream/")
	if i < 0 || j < i || k < 0 || k > i {
		return "", "", "", 0, false
	}
	epoch, err := strconv.ParseInt(arn[j+1:], 10, 64)
	if err != nil {
		return "", "", "", 0, false
	}
	return arn[:i], arn[k+len(":stream/") : i], arn[i+len("/consumer/") : j], epoch, true
}

// findConsumer resolves a ConsumerRef to its stream and live consumer. e.mu is held.
func (e *Engine) findConsumer(ref ConsumerRef, now time.Time) (*stream, *consumer, error) {
	var v validator
	v.consumerARN(ref.ConsumerARN)
	v.streamARN(ref.StreamARN)
	v.consumerName(ref.ConsumerName)
	if err := v.err(); err != nil {
		return nil, nil, err
	}
	if ref.ConsumerARN != "" {
		streamARN, streamName, name, epoch, ok := parseConsumerARN(ref.ConsumerARN)
		if !ok {
			return nil, nil, newError(InvalidArgumentException, "Invalid ConsumerARN %s.", ref.ConsumerARN)
		}
		if streamARN != e.arn(streamName) {
			return nil, nil, newError(ResourceNotFoundException, "Consumer %s not found.", ref.ConsumerARN)
		}
		if (ref.StreamARN != "" && ref.StreamARN != streamARN) || (ref.ConsumerName != "" && ref.ConsumerName != name) {
			return nil, nil, newError(InvalidArgumentException, "ConsumerARN %s does not match the StreamARN or ConsumerName given with it.", ref.ConsumerARN)
		}
		s, err := e.lookup(StreamRef{StreamName: streamName})
		if err != nil {
			return nil, nil, err
		}
		c := s.liveConsumer(name, now)
		if c == nil || c.created.Unix() != epoch {
			return nil, nil, e.consumerNotFound(s.name, name)
		}
		return s, c, nil
	}
	if ref.StreamARN == "" || ref.ConsumerName == "" {
		return nil, nil, newError(InvalidArgumentException, "Either ConsumerARN or both StreamARN and ConsumerName must be provided.")
	}
	s, err := e.lookup(StreamRef{StreamARN: ref.StreamARN})
	if err != nil {
		return nil, nil, err
	}
	c := s.liveConsumer(ref.ConsumerName, now)
	if c == nil {
		return nil, nil, e.consumerNotFound(s.name, ref.ConsumerName)
	}
	return s, c, nil
}

// RegisterStreamConsumer registers an enhanced fan-out consumer. It is
// CREATING for Options.CreateDelay, then ACTIVE.
func (e *Engine) RegisterStreamConsumer(ctx context.Context, in RegisterConsumerInput) (Consumer, error) {
	var v validator
	if v.required(in.StreamARN != "", "streamARN") {
		v.streamARN(in.StreamARN)
	}
	if v.required(in.ConsumerName != "", "consumerName") {
		v.consumerName(in.ConsumerName)
	}
	if err := v.err(); err != nil {
		return Consumer{}, err
	}
	if err := checkTags(in.Tags, 0); err != nil {
		return Consumer{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.lookup(StreamRef{StreamARN: in.StreamARN})
	if err != nil {
		return Consumer{}, err
	}
	now := e.clock.Now()
	if st := s.status(now); st == StatusCreating || st == StatusDeleting {
		return Consumer{}, newError(ResourceInUseException, "Stream %s under account %s not ACTIVE, instead in state %s", s.name, e.opts.AccountID, st)
	}
	s.pruneConsumers(now)
	if s.consumers[in.ConsumerName] != nil {
		return Consumer{}, newError(ResourceInUseException, "Consumer %s under stream %s under account %s already exists.", in.ConsumerName, s.name, e.opts.AccountID)
	}
	if len(s.consumers) >= MaxConsumersPerStream {
		return Consumer{}, newError(LimitExceededException, "Stream %s under account %s already has %d registered consumers, the limit.", s.name, e.opts.AccountID, MaxConsumersPerStream)
	}
	creating := 0
	for _, o := range e.streams {
		for _, c := range o.consumers {
			if !e.gone(o) && c.status(now) == ConsumerCreating {
				creating++
			}
		}
	}
	if creating >= MaxConsumersCreating {
		return Consumer{}, newError(LimitExceededException, "The number of consumers in CREATING state is limited to %d per account.", MaxConsumersCreating)
	}
	c := &consumer{name: in.ConsumerName, created: now, readyAt: now.Add(e.opts.CreateDelay), tags: map[string]string{}}
	for k, val := range in.Tags {
		c.tags[k] = val
	}
	if s.consumers == nil {
		s.consumers = map[string]*consumer{}
	}
	s.consumers[c.name] = c
	if err := e.saveStream(s); err != nil {
		delete(s.consumers, c.name)
		return Consumer{}, err
	}
	e.event(EventFanOut, s.name, "", "registered enhanced fan-out consumer %s on %s: a dedicated 2 MiB/s per shard", c.name, s.name)
	return e.describeConsumer(s, c, now), nil
}

// DeregisterStreamConsumer deregisters a consumer: it is DELETING for
// Options.DeleteDelay, then gone; its subscriptions end at once.
func (e *Engine) DeregisterStreamConsumer(ctx context.Context, ref ConsumerRef) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	s, c, err := e.findConsumer(ref, now)
	if err != nil {
		return err
	}
	if c.deleting {
		return nil
	}
	c.deleting = true
	c.deleteAt = now.Add(e.opts.DeleteDelay)
	c.endSubscriptions(e.consumerGoneError(s, c))
	if e.opts.DeleteDelay <= 0 {
		delete(s.consumers, c.name)
	}
	if err := e.saveStream(s); err != nil {
		return err
	}
	e.event(EventFanOut, s.name, "", "deregistered enhanced fan-out consumer %s from %s", c.name, s.name)
	return nil
}

// DescribeStreamConsumer describes a consumer named by ARN, or by stream
// ARN and name.
func (e *Engine) DescribeStreamConsumer(ctx context.Context, ref ConsumerRef) (ConsumerDescription, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	now := e.clock.Now()
	s, c, err := e.findConsumer(ref, now)
	if err != nil {
		return ConsumerDescription{}, err
	}
	return ConsumerDescription{Consumer: e.describeConsumer(s, c, now), StreamARN: e.arn(s.name)}, nil
}

// ListStreamConsumers lists a stream's consumers by name, a page at a time;
// a NextToken is good for 300 seconds.
func (e *Engine) ListStreamConsumers(ctx context.Context, in ListStreamConsumersInput) (ListStreamConsumersOutput, error) {
	var v validator
	if v.required(in.StreamARN != "", "streamARN") {
		v.streamARN(in.StreamARN)
	}
	if in.MaxResults != 0 {
		v.intRange(in.MaxResults, "maxResults", 1, 10000)
	}
	if in.NextToken != "" {
		v.length(in.NextToken, "nextToken", 1, 1048576)
	}
	if err := v.err(); err != nil {
		return ListStreamConsumersOutput{}, err
	}
	now := e.clock.Now()
	var after string
	var tok pageToken
	if in.NextToken != "" {
		p, ok := e.signer.decodePage(in.NextToken, 'c')
		if !ok {
			return ListStreamConsumersOutput{}, newError(InvalidArgumentException, "Invalid NextToken.")
		}
		if now.Sub(fromMs(p.issuedMs)) > IteratorTTL {
			return ListStreamConsumersOutput{}, newError(ExpiredNextTokenException, "The NextToken has expired.")
		}
		tok, after = p, p.after
	}
	limit := in.MaxResults
	if limit == 0 || limit > 100 {
		limit = 100
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	s, err := e.lookup(StreamRef{StreamARN: in.StreamARN})
	if err != nil {
		return ListStreamConsumersOutput{}, err
	}
	if in.NextToken != "" && (tok.stream != s.name || tok.created != s.created.UnixMilli()) {
		return ListStreamConsumersOutput{}, newError(InvalidArgumentException, "NextToken was issued for another stream.")
	}
	if !in.StreamCreationTimestamp.IsZero() && in.StreamCreationTimestamp.UnixMilli() != s.created.UnixMilli() {
		return ListStreamConsumersOutput{}, e.notFound(s.name)
	}
	var out ListStreamConsumersOutput
	var last string
	for _, name := range s.consumerNames() {
		c := s.consumers[name]
		if name <= after || c.gone(now) {
			continue
		}
		if len(out.Consumers) == limit {
			out.NextToken = e.signer.encodePage(pageToken{kind: 'c', stream: s.name, created: s.created.UnixMilli(), after: last, issuedMs: now.UnixMilli()})
			break
		}
		out.Consumers = append(out.Consumers, e.describeConsumer(s, c, now))
		last = name
	}
	return out, nil
}

// FanOutSubscription is one SubscribeToShard call: a Subscription that
// reads with the consumer's own 2 MiB/s budget on the shard, sends an empty
// event after SubscribeHeartbeat without data, and ends after
// SubscriptionLifetime. Next and Position are for one goroutine; Close may
// be called from any.
type FanOutSubscription struct {
	e         *Engine
	sub       *Subscription
	sh        *shard
	consumer  *consumer
	link      *fanoutLink
	arn       string
	shardID   string
	expires   time.Time
	lastEvent time.Time
	endErr    atomic.Pointer[error]
	paced     atomic.Int64 // how often Next has waited for the read budget
}

// SubscribeToShard starts pushing a shard's records to an ACTIVE consumer.
// At most one call a second per consumer and shard (LimitExceededException);
// another within 5 s of a success is refused (ResourceInUseException);
// later, the new subscription takes over and the old one's Next returns
// ResourceInUseException. Once the engine is closed it returns ErrClosed.
func (e *Engine) SubscribeToShard(ctx context.Context, in SubscribeToShardInput) (*FanOutSubscription, error) {
	var v validator
	if v.required(in.ConsumerARN != "", "consumerARN") {
		v.consumerARN(in.ConsumerARN)
	}
	v.shardID(in.ShardID, "shardId", true)
	if v.required(in.StartingPosition.Type != "", "startingPosition.type") && !validIteratorType(in.StartingPosition.Type) {
		v.add(string(in.StartingPosition.Type), "startingPosition.type", "Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	e.settleReshards() // a deferred reshard may have made this shard
	for {
		e.mu.RLock()
		now := e.clock.Now()
		s, _, sh, err := e.fanOutTarget(in, now)
		var st start
		if err == nil {
			// A bad starting position is refused before the call counts against
			// the one-a-second budget, so the corrected retry is not throttled.
			st, err = e.startAt("SubscribeToShard", s, sh, in.StartingPosition, now)
		}
		e.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		// The seek runs without e.mu so it holds up no other call; what may
		// have changed meanwhile is checked again in startFanOut.
		if st.seek && e.seekHook != nil {
			e.seekHook()
		}
		pos, err := e.resolve(st)
		if err != nil {
			return nil, err
		}
		fs, err := e.startFanOut(in, sh, pos)
		if errors.Is(err, errShardReplaced) {
			continue // the stream was re-created meanwhile: pos is another shard's
		}
		return fs, err
	}
}

// errShardReplaced tells SubscribeToShard to resolve its position again.
var errShardReplaced = errors.New("shard replaced")

// fanOutTarget checks what a SubscribeToShard call names against the
// engine's state. e.mu is held.
func (e *Engine) fanOutTarget(in SubscribeToShardInput, now time.Time) (*stream, *consumer, *shard, error) {
	if e.closed {
		return nil, nil, nil, ErrClosed
	}
	s, c, err := e.findConsumer(ConsumerRef{ConsumerARN: in.ConsumerARN}, now)
	if err != nil {
		return nil, nil, nil, err
	}
	if st := s.status(now); st == StatusCreating {
		return nil, nil, nil, e.notFound(s.name)
	}
	if st := c.status(now); st != ConsumerActive {
		return nil, nil, nil, newError(ResourceInUseException, "Consumer %s is not ACTIVE, instead in state %s.", in.ConsumerARN, st)
	}
	sh := s.shardByID(in.ShardID)
	if sh == nil {
		return nil, nil, nil, e.shardNotFound(s.name, in.ShardID)
	}
	return s, c, sh, nil
}

// startFanOut checks the call again (the engine may have closed, the
// consumer gone or the shard expired since the position was resolved),
// applies the call rate and takeover rules and starts the subscription at
// pos on shard want.
func (e *Engine) startFanOut(in SubscribeToShardInput, want *shard, pos uint64) (*FanOutSubscription, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	s, c, sh, err := e.fanOutTarget(in, now)
	if err != nil {
		return nil, err
	}
	if sh != want {
		return nil, errShardReplaced
	}
	link := c.link(sh.index)
	if !link.calls.AllowN(now, 1) {
		return nil, newError(LimitExceededException, "Rate exceeded for consumer %s and shard %s in stream %s under account %s.", in.ConsumerARN, sh.id, s.name, e.opts.AccountID)
	}
	if !link.lastOK.IsZero() && now.Sub(link.lastOK) < SubscribeTakeover {
		return nil, newError(ResourceInUseException, "Another active subscription exists for this consumer: %s on shard %s.", in.ConsumerARN, sh.id)
	}
	sub := &Subscription{e: e, ref: StreamRef{StreamName: s.name}, created: s.created.UnixMilli(), shard: sh.index, pos: pos, done: make(chan struct{}), MaxRecords: MaxGetRecordsLimit}
	sh.mu.Lock()
	sh.subs[sub] = struct{}{}
	sh.mu.Unlock()
	fs := &FanOutSubscription{e: e, sub: sub, sh: sh, consumer: c, link: link, arn: in.ConsumerARN, shardID: sh.id, expires: now.Add(SubscriptionLifetime), lastEvent: now}
	if old := link.active; old != nil {
		old.end(newError(ResourceInUseException, "Another subscription of consumer %s to shard %s took over this one.", in.ConsumerARN, sh.id))
	}
	link.active, link.lastOK = fs, now
	return fs, nil
}

// Next waits for the next event and returns it. It waits rather than fails
// when the consumer's read budget on the shard is spent, as the service
// paces its push. It returns io.EOF once the subscription has expired, the
// shard has ended (after the event carrying the child shards) or it was
// closed; an *Error ResourceInUseException when another subscription took
// over; ResourceNotFoundException when the consumer was deregistered;
// ErrClosed when the engine was closed.
func (fs *FanOutSubscription) Next(ctx context.Context) (SubscriptionEvent, error) {
	e := fs.e
	for {
		if err := fs.endErr.Load(); err != nil {
			return SubscriptionEvent{}, *err
		}
		select {
		case <-fs.sub.done:
			if err := fs.endErr.Load(); err != nil {
				return SubscriptionEvent{}, *err
			}
			return SubscriptionEvent{}, io.EOF
		default:
		}
		now := e.clock.Now()
		if !now.Before(fs.expires) {
			fs.sub.detach(fs.sh)
			return SubscriptionEvent{}, io.EOF
		}
		if !e.opts.DisableLimits {
			if debt := -fs.link.budget.TokensAt(now); debt >= 1 {
				wait := time.Duration(debt / FanOutReadBytesPerSec * float64(time.Second))
				until := now.Add(wait.Truncate(time.Millisecond) + time.Millisecond)
				fs.paced.Add(1)
				if err := waitUntil(ctx, e.clock, minTime(until, fs.expires), nil, fs.sub.done); err != nil {
					return SubscriptionEvent{}, err
				}
				continue
			}
		}
		p, err := fs.sub.poll(now)
		if err != nil {
			return SubscriptionEvent{}, err
		}
		if p.ready {
			if !e.opts.DisableLimits {
				for left := p.bytes; left > 0; left -= FanOutReadBytesPerSec {
					fs.link.budget.ReserveN(now, int(min(left, FanOutReadBytesPerSec)))
				}
			}
			out := Rate{RecordsOut: int64(len(p.ev.Records)), BytesOut: p.bytes}
			fs.consumer.metrics.add(fs.e.rateTime(now), out)
			fs.sh.fanout.add(fs.e.rateTime(now), out)
			fs.lastEvent = now
			return p.ev, nil
		}
		if now.Sub(fs.lastEvent) >= SubscribeHeartbeat {
			fs.lastEvent = now
			return SubscriptionEvent{Records: []Record{}, ContinuationSequenceNumber: fs.sub.Position()}, nil
		}
		if err := waitUntil(ctx, e.clock, minTime(fs.lastEvent.Add(SubscribeHeartbeat), fs.expires), p.wake, fs.sub.done); err != nil {
			return SubscriptionEvent{}, err
		}
	}
}

// Position returns the continuation sequence number: just before the next
// record. It moves on even when no records come (trimmed or failed positions).
func (fs *FanOutSubscription) Position() string { return fs.sub.Position() }

// Close ends the subscription; a waiting Next returns io.EOF.
func (fs *FanOutSubscription) Close() { fs.sub.detach(fs.sh) }

// ConsumerARN returns the subscribing consumer's ARN.
func (fs *FanOutSubscription) ConsumerARN() string { return fs.arn }

// ShardID returns the shard followed.
func (fs *FanOutSubscription) ShardID() string { return fs.shardID }

// ExpiresAt returns when the subscription ends by itself.
func (fs *FanOutSubscription) ExpiresAt() time.Time { return fs.expires }

// end stops the subscription; Next returns err (io.EOF when nil).
func (fs *FanOutSubscription) end(err *Error) {
	if err != nil {
		var e error = err
		fs.endErr.CompareAndSwap(nil, &e)
	}
	fs.sub.detach(fs.sh)
}

// endLive stops the subscription with err unless it has ended already, so
// one that finished by itself (closed, shard end) keeps returning io.EOF.
func (fs *FanOutSubscription) endLive(err error) {
	sh := fs.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.subs[fs.sub]; ok {
		fs.endErr.CompareAndSwap(nil, &err)
		delete(sh.subs, fs.sub)
		close(fs.sub.done)
	}
}

// live reports whether the subscription still streams at now.
func (fs *FanOutSubscription) live(now time.Time) bool {
	select {
	case <-fs.sub.done:
		return false
	default:
	}
	return now.Before(fs.expires)
}

// detach removes the subscription from its shard and wakes its Next.
func (sub *Subscription) detach(sh *shard) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.subs[sub]; ok {
		delete(sh.subs, sub)
		close(sub.done)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// consumerSnapshots describes a stream's consumers. e.mu is held (shared).
func (e *Engine) consumerSnapshots(s *stream, now time.Time) (out []ConsumerSnapshot, fanout Rate) {
	for _, name := range s.consumerNames() {
		c := s.consumers[name]
		if c.gone(now) {
			continue
		}
		hist, total := c.metrics.history(e.rateTime(now))
		cs := ConsumerSnapshot{Name: c.name, ARN: e.consumerARN(s.name, c), Status: c.status(now), Created: c.created, Rate: hist[len(hist)-1], Total: total}
		for _, l := range c.links {
			if l.active != nil && l.active.live(now) {
				cs.Subscriptions++
			}
		}
		fanout.add(cs.Rate)
		out = append(out, cs)
	}
	return out, fanout
}

// activeConsumers counts the consumers that are billed: registered and
// not being deleted. e.mu is held.
func (s *stream) activeConsumers(now time.Time) int {
	n := 0
	for _, c := range s.consumers {
		if !c.deleting && !c.gone(now) {
			n++
		}
	}
	return n
}
