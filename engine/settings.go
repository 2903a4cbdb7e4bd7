package engine

import (
	"context"
	"encoding/json"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the stream and account settings that change no records:
// enhanced monitoring, the maximum record size, warm throughput and the
// account's minimum throughput billing commitment.

// ShardLevelMetrics are the enhanced-monitoring metric names, in the
// service's order; "ALL" in a request stands for every one of them.
var ShardLevelMetrics = []string{
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
}

// MetricsAll names every shard-level metric at once.
const MetricsAll = "ALL"

const metricsEnum = "[IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]"

// Record-size and warm-throughput bounds of the service.
const (
	// DefaultMaxRecordSizeKiB is a stream's record size limit unless changed.
	DefaultMaxRecordSizeKiB = MaxRecordBytes >> 10
	// MaxMaxRecordSizeKiB is the most UpdateMaxRecordSize allows (10 MiB).
	MaxMaxRecordSizeKiB = 10240
	// MaxWarmThroughputMiBps is the most warm throughput a stream may ask for (10 GiB/s).
	MaxWarmThroughputMiBps = 10240
	// CommitmentMinimum is how long a minimum throughput billing commitment
	// must last before it can end.
	CommitmentMinimum = 24 * time.Hour
)

// EnhancedMonitoringInput is the input of EnableEnhancedMonitoring and
// DisableEnhancedMonitoring.
type EnhancedMonitoringInput struct {
	StreamRef
	ShardLevelMetrics []string
}

// EnhancedMonitoringOutput is the output of EnableEnhancedMonitoring and
// DisableEnhancedMonitoring: the metrics before and after the call.
type EnhancedMonitoringOutput struct {
	StreamName               string
	StreamARN                string
	CurrentShardLevelMetrics []string
	DesiredShardLevelMetrics []string
}

// UpdateMaxRecordSizeInput is the input of UpdateMaxRecordSize.
type UpdateMaxRecordSizeInput struct {
	StreamARN          string
	MaxRecordSizeInKiB int
}

// WarmThroughput is an ON_DEMAND stream's warm throughput: the write
// throughput it asked to have ready (TargetMiBps, 0 when none) and what its
// open shards take now (CurrentMiBps, 1 MiB/s each).
type WarmThroughput struct {
	TargetMiBps  int
	CurrentMiBps int
}

// UpdateStreamWarmThroughputInput is the input of UpdateStreamWarmThroughput.
type UpdateStreamWarmThroughputInput struct {
	StreamRef
	WarmThroughputMiBps int
}

// UpdateStreamWarmThroughputOutput is the output of UpdateStreamWarmThroughput:
// the target, and the throughput the stream had when the update began.
type UpdateStreamWarmThroughputOutput struct {
	StreamName     string
	StreamARN      string
	WarmThroughput WarmThroughput
}

// CommitmentStatus is the state of the account's minimum throughput
// billing commitment.
type CommitmentStatus string

// The commitment states of the service.
const (
	CommitmentEnabled  CommitmentStatus = "ENABLED"
	CommitmentDisabled CommitmentStatus = "DISABLED"
	// CommitmentEnding: disabled before its 24 hours were up, it stays on
	// until EarliestAllowedEndAt.
	CommitmentEnding CommitmentStatus = "ENABLED_UNTIL_EARLIEST_ALLOWED_END"
)

// BillingCommitment is the account's minimum throughput billing commitment;
// zero times are absent.
type BillingCommitment struct {
	Status               CommitmentStatus
	StartedAt            time.Time
	EndedAt              time.Time
	EarliestAllowedEndAt time.Time
}

// AccountSettings is the output of DescribeAccountSettings and UpdateAccountSettings.
type AccountSettings struct {
	MinimumThroughputBillingCommitment BillingCommitment
}

// UpdateAccountSettingsInput is the input of UpdateAccountSettings.
// CommitmentGiven says whether MinimumThroughputBillingCommitment was sent;
// Status is its Status ("" when not sent).
type UpdateAccountSettingsInput struct {
	CommitmentGiven bool
	Status          CommitmentStatus
}

// ---- Enhanced monitoring.

// EnableEnhancedMonitoring turns shard-level metrics on. Monitoring needs
// an ACTIVE stream and does not make it UPDATING.
func (e *Engine) EnableEnhancedMonitoring(ctx context.Context, in EnhancedMonitoringInput) (EnhancedMonitoringOutput, error) {
	return e.changeMonitoring(in, true)
}

// DisableEnhancedMonitoring turns shard-level metrics off.
func (e *Engine) DisableEnhancedMonitoring(ctx context.Context, in EnhancedMonitoringInput) (EnhancedMonitoringOutput, error) {
	return e.changeMonitoring(in, false)
}

func (e *Engine) changeMonitoring(in EnhancedMonitoringInput, enable bool) (EnhancedMonitoringOutput, error) {
	var v validator
	if v.required(in.ShardLevelMetrics != nil, "shardLevelMetrics") {
		if n := len(in.ShardLevelMetrics); n < 1 {
			v.add("[]", "shardLevelMetrics", "Member must have length greater than or equal to 1")
		} else if n > len(ShardLevelMetrics) {
			v.add("["+strings.Join(in.ShardLevelMetrics, ", ")+"]", "shardLevelMetrics", "Member must have length less than or equal to 7")
		}
		for _, m := range in.ShardLevelMetrics {
			if m != MetricsAll && !slices.Contains(ShardLevelMetrics, m) {
				v.add("["+strings.Join(in.ShardLevelMetrics, ", ")+"]", "shardLevelMetrics", "Member must satisfy constraint: [Member must satisfy enum value set: "+metricsEnum+"]")
				break
			}
		}
	}
	if err := v.err(); err != nil {
		return EnhancedMonitoringOutput{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return EnhancedMonitoringOutput{}, err
	}
	named := map[string]bool{}
	for _, m := range in.ShardLevelMetrics {
		if m == MetricsAll {
			for _, all := range ShardLevelMetrics {
				named[all] = true
			}
		}
		named[m] = true
	}
	before := slices.Clone(s.metrics)
	var after []string
	for _, m := range ShardLevelMetrics {
		if on := slices.Contains(before, m); (enable && (on || named[m])) || (!enable && on && !named[m]) {
			after = append(after, m)
		}
	}
	s.metrics = after
	if err := e.saveStream(s); err != nil {
		s.metrics = before
		return EnhancedMonitoringOutput{}, err
	}
	if !slices.Equal(before, after) {
		e.event(EventStream, s.name, "", "enhanced monitoring of %s: %s", s.name, metricsText(after))
	}
	return EnhancedMonitoringOutput{StreamName: s.name, StreamARN: e.arn(s.name), CurrentShardLevelMetrics: nonNil(before), DesiredShardLevelMetrics: nonNil(after)}, nil
}

func metricsText(ms []string) string {
	switch len(ms) {
	case 0:
		return "off"
	case len(ShardLevelMetrics):
		return "all shard-level metrics"
	}
	return strings.Join(ms, ", ")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ---- Record size.

// UpdateMaxRecordSize sets the largest record data a stream takes,
// 1024–10240 KiB. It applies to the next write at once.
func (e *Engine) UpdateMaxRecordSize(ctx context.Context, in UpdateMaxRecordSizeInput) error {
	var v validator
	v.streamARN(in.StreamARN)
	v.intRange(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", DefaultMaxRecordSizeKiB, MaxMaxRecordSizeKiB)
	if err := v.err(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(StreamRef{StreamARN: in.StreamARN})
	if err != nil {
		return err
	}
	old := s.maxRecordKiB
	s.maxRecordKiB = in.MaxRecordSizeInKiB
	if err := e.saveStream(s); err != nil {
		s.maxRecordKiB = old
		return err
	}
	e.event(EventStream, s.name, "", "maximum record size of %s is now %d KiB", s.name, s.recordSizeKiB())
	return nil
}

// recordSizeKiB is the stream's record size limit in KiB.
func (s *stream) recordSizeKiB() int {
	if s.maxRecordKiB == 0 {
		return DefaultMaxRecordSizeKiB
	}
	return s.maxRecordKiB
}

// checkRecordSizes refuses a write with a record over the stream's limit,
// as the model's length constraint would. put cannot tell PutRecord from a
// one-record PutRecords, so a single record is named 'data'. e.mu is held.
func checkRecordSizes(s *stream, entries []PutRecordsEntry) error {
	limit := s.recordSizeKiB() << 10
	var v validator
	for i, r := range entries {
		if len(r.Data) > limit {
			member := "data"
			if len(entries) > 1 {
				member = "records." + strconv.Itoa(i+1) + ".member.data"
			}
			v.add("java.nio.HeapByteBuffer", member, "Member must have length less than or equal to "+strconv.Itoa(limit))
		}
	}
	return v.err()
}

// ---- Warm throughput.

// warmShards is how many open shards the stream's warm throughput needs.
func (s *stream) warmShards() int { return warmShards(s.warmMiBps) }

// warmShards is how many open shards take mibps: 1 MiB/s each.
func warmShards(mibps int) int {
	return (mibps*(1<<20) + ShardWriteBytesPerSec - 1) / ShardWriteBytesPerSec
}

// checkCreateSettings checks CreateStream's record size and warm throughput.
func checkCreateSettings(v *validator, in CreateStreamInput) {
	if in.MaxRecordSizeInKiB != 0 {
		v.intRange(in.MaxRecordSizeInKiB, "maxRecordSizeInKiB", DefaultMaxRecordSizeKiB, MaxMaxRecordSizeKiB)
	}
	v.intRange(in.WarmThroughputMiBps, "warmThroughputMiBps", 0, 1<<31-1)
}

// checkWarmAtCreate refuses warm throughput on a stream that cannot have
// it, as UpdateStreamWarmThroughput does. e.mu is held.
func (e *Engine) checkWarmAtCreate(in CreateStreamInput, mode StreamMode, now time.Time) error {
	if in.WarmThroughputMiBps == 0 {
		return nil
	}
	return e.checkWarm(in.StreamName, mode, in.WarmThroughputMiBps, now)
}

// checkWarm is what warm throughput needs: an ON_DEMAND stream, the
// account's commitment, and at most MaxWarmThroughputMiBps. e.mu is held.
func (e *Engine) checkWarm(name string, mode StreamMode, mibps int, now time.Time) error {
	if mode != ModeOnDemand {
		return newError(InvalidArgumentException, "Warm throughput is only supported for streams in ON_DEMAND mode; stream %s under account %s is %s.", name, e.opts.AccountID, mode)
	}
	if e.account.commitment(now).Status == CommitmentDisabled {
		return newError(InvalidArgumentException, "Warm throughput requires the account's MinimumThroughputBillingCommitment to be ENABLED; account %s has it DISABLED.", e.opts.AccountID)
	}
	if mibps > MaxWarmThroughputMiBps {
		return newError(InvalidArgumentException, "Requested warm throughput %d MiBps for stream %s exceeds the maximum of %d MiBps.", mibps, name, MaxWarmThroughputMiBps)
	}
	return nil
}

// warmThroughput reports an ON_DEMAND stream's warm throughput; nil for
// PROVISIONED. e.mu is held.
func (s *stream) warmThroughput() *WarmThroughput {
	if s.mode != ModeOnDemand {
		return nil
	}
	open := 0
	for _, sh := range s.shards {
		if !sh.isClosed() {
			open++
		}
	}
	return &WarmThroughput{TargetMiBps: s.warmMiBps, CurrentMiBps: open * ShardWriteBytesPerSec >> 20}
}

// UpdateStreamWarmThroughput sets the write throughput an ON_DEMAND stream
// keeps ready, in an account with the minimum throughput billing
// commitment on. A higher target splits the widest open shards at once
// until the open shards take it (the stream is UPDATING for
// Options.UpdateDelay); a lower one lets the scaler merge cold shards down
// to it later. The scaler never goes below the target.
func (e *Engine) UpdateStreamWarmThroughput(ctx context.Context, in UpdateStreamWarmThroughputInput) (UpdateStreamWarmThroughputOutput, error) {
	var v validator
	v.intRange(in.WarmThroughputMiBps, "warmThroughputMiBps", 0, 1<<31-1)
	if err := v.err(); err != nil {
		return UpdateStreamWarmThroughputOutput{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	s, err := e.forChange(in.StreamRef)
	if err != nil {
		return UpdateStreamWarmThroughputOutput{}, err
	}
	now := e.clock.Now()
	if err := e.checkWarm(s.name, s.mode, in.WarmThroughputMiBps, now); err != nil {
		return UpdateStreamWarmThroughputOutput{}, err
	}
	before := *s.warmThroughput()
	old := s.warmMiBps
	s.warmMiBps = in.WarmThroughputMiBps
	if err := e.checkShardQuota(s.warmShards() - len(s.openShards())); err != nil {
		s.warmMiBps = old
		return UpdateStreamWarmThroughputOutput{}, err
	}
	split := e.warmUp(s, now)
	s.updatingUntil = now.Add(e.opts.UpdateDelay)
	if err := e.saveStream(s); err != nil {
		return UpdateStreamWarmThroughputOutput{}, err
	}
	msg := "warm throughput of %s set to %d MiB/s"
	if split > 0 {
		msg += ": split %d shards to take it"
		e.event(EventMode, s.name, "", msg, s.name, s.warmMiBps, split)
	} else {
		e.event(EventMode, s.name, "", msg, s.name, s.warmMiBps)
	}
	return UpdateStreamWarmThroughputOutput{StreamName: s.name, StreamARN: e.arn(s.name), WarmThroughput: WarmThroughput{TargetMiBps: s.warmMiBps, CurrentMiBps: before.CurrentMiBps}}, nil
}

// warmUp splits the widest open shards at their midpoints until the open
// shards take the warm throughput; it returns how many it split. The
// caller has checked the shard quota. e.mu is held.
func (e *Engine) warmUp(s *stream, now time.Time) int {
	n := 0
	for {
		open := s.openShards()
		if len(open) >= s.warmShards() {
			return n
		}
		var widest *shard
		for _, sh := range open {
			if splittable(sh.rng) && (widest == nil || rangeWidth(sh.rng).Cmp(rangeWidth(widest.rng)) > 0) {
				widest = sh
			}
		}
		if widest == nil {
			return n
		}
		e.split(s, widest, widest.rng.midpoint(), now)
		n++
	}
}

func rangeWidth(r HashKeyRange) *big.Int { return new(big.Int).Sub(r.End.Big(), r.Start.Big()) }

// ---- Account settings.

// accountSettings is the account's state, guarded by Engine.mu and kept
// in the engine bucket.
type accountSettings struct {
	Status   CommitmentStatus `json:"status,omitempty"`
	Started  int64            `json:"started_ms,omitempty"`
	Ended    int64            `json:"ended_ms,omitempty"`
	Earliest int64            `json:"earliest_end_ms,omitempty"`
}

const accountKey = "account-settings"

// commitment reports the commitment at now: a scheduled end that has
// passed reads as DISABLED.
func (a accountSettings) commitment(now time.Time) BillingCommitment {
	c := BillingCommitment{Status: a.Status, StartedAt: fromMs(a.Started), EndedAt: fromMs(a.Ended), EarliestAllowedEndAt: fromMs(a.Earliest)}
	if c.Status == "" {
		c.Status = CommitmentDisabled
	}
	if c.Status == CommitmentEnding && !now.Before(c.EndedAt) {
		c.Status = CommitmentDisabled
	}
	return c
}

func (e *Engine) loadAccount() error {
	b, err := e.db.GetMeta(engineBucket, accountKey)
	if err != nil || len(b) == 0 {
		return err
	}
	return json.Unmarshal(b, &e.account)
}

// DescribeAccountSettings reports the account's minimum throughput billing
// commitment.
func (e *Engine) DescribeAccountSettings(ctx context.Context) (AccountSettings, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return AccountSettings{MinimumThroughputBillingCommitment: e.account.commitment(e.clock.Now())}, nil
}

// UpdateAccountSettings turns the minimum throughput billing commitment on
// or off. A commitment lasts at least CommitmentMinimum: turned off sooner,
// it is ENABLED_UNTIL_EARLIEST_ALLOWED_END until then, and turning it on
// meanwhile cancels the end.
func (e *Engine) UpdateAccountSettings(ctx context.Context, in UpdateAccountSettingsInput) (AccountSettings, error) {
	var v validator
	if v.required(in.CommitmentGiven, "minimumThroughputBillingCommitment") {
		if v.required(in.Status != "", "minimumThroughputBillingCommitment.status") && in.Status != CommitmentEnabled && in.Status != CommitmentDisabled {
			v.add(string(in.Status), "minimumThroughputBillingCommitment.status", "Member must satisfy enum value set: [ENABLED, DISABLED]")
		}
	}
	if err := v.err(); err != nil {
		return AccountSettings{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	cur := e.account.commitment(now)
	next := e.account
	switch {
	case in.Status == CommitmentEnabled && cur.Status == CommitmentDisabled:
		next = accountSettings{Status: CommitmentEnabled, Started: ms(now), Earliest: ms(now.Add(CommitmentMinimum))}
	case in.Status == CommitmentEnabled && cur.Status == CommitmentEnding:
		next.Status, next.Ended = CommitmentEnabled, 0
	case in.Status == CommitmentDisabled && cur.Status == CommitmentEnabled && now.Before(cur.EarliestAllowedEndAt):
		next.Status, next.Ended = CommitmentEnding, next.Earliest
	case in.Status == CommitmentDisabled && cur.Status == CommitmentEnabled:
		next.Status, next.Ended = CommitmentDisabled, ms(now)
	}
	if next != e.account {
		b, err := json.Marshal(next)
		if err != nil {
			return AccountSettings{}, internalError(err)
		}
		if err := e.db.PutMeta(engineBucket, accountKey, b); err != nil {
			return AccountSettings{}, internalError(err)
		}
		e.account = next
		e.event(EventMode, "", "", "minimum throughput billing commitment: %s", e.account.commitment(now).Status)
	}
	return AccountSettings{MinimumThroughputBillingCommitment: e.account.commitment(now)}, nil
}
