package api

import (
	"context"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// The actions of engine/settings.go and engine/tagging.go: enhanced
// monitoring, record size, warm throughput, account settings and ARN-based
// tagging.

// monitoring is what DescribeStream(Summary) report in EnhancedMonitoring:
// one entry with the metrics on, an empty list when none is.
func monitoring(metrics []string) []enhancedMetrics {
	if len(metrics) == 0 {
		return noMonitoring()
	}
	return []enhancedMetrics{{ShardLevelMetrics: metrics}}
}

type warmThroughput struct {
	TargetMiBps  *int `json:"TargetMiBps,omitempty"`
	CurrentMiBps *int `json:"CurrentMiBps,omitempty"`
}

// toWarmThroughput omits the target when there is none; nil stays nil.
func toWarmThroughput(w *engine.WarmThroughput) *warmThroughput {
	if w == nil {
		return nil
	}
	out := &warmThroughput{CurrentMiBps: &w.CurrentMiBps}
	if w.TargetMiBps > 0 {
		out.TargetMiBps = &w.TargetMiBps
	}
	return out
}

func monitoringAction(enable bool) action {
	return func(ctx context.Context, e *engine.Engine, in object) (any, error) {
		args := engine.EnhancedMonitoringInput{StreamRef: in.ref(), ShardLevelMetrics: in.strings("ShardLevelMetrics")}
		if err := in.done(); err != nil {
			return nil, err
		}
		run := e.DisableEnhancedMonitoring
		if enable {
			run = e.EnableEnhancedMonitoring
		}
		out, err := run(ctx, args)
		if err != nil {
			return nil, err
		}
		return struct {
			StreamName               string   `json:"StreamName"`
			StreamARN                string   `json:"StreamARN"`
			CurrentShardLevelMetrics []string `json:"CurrentShardLevelMetrics"`
			DesiredShardLevelMetrics []string `json:"DesiredShardLevelMetrics"`
		}{out.StreamName, out.StreamARN, out.CurrentShardLevelMetrics, out.DesiredShardLevelMetrics}, nil
	}
}

var (
	enableEnhancedMonitoring  = monitoringAction(true)
	disableEnhancedMonitoring = monitoringAction(false)
)

// createSettings reads CreateStream's MaxRecordSizeInKiB and
// WarmThroughputMiBps. The engine takes 0 for "not given", so a record
// size of 0 that was sent is reported here.
func createSettings(in object) (maxRecordKiB, warmMiBps int) {
	maxRecordKiB, sent := in.integer("MaxRecordSizeInKiB")
	if sent && maxRecordKiB == 0 {
		in.problem("'0'", "MaxRecordSizeInKiB", "Member must have value greater than or equal to 1024")
	}
	warmMiBps, _ = in.integer("WarmThroughputMiBps")
	return maxRecordKiB, warmMiBps
}

func updateMaxRecordSize(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.UpdateMaxRecordSizeInput{StreamARN: in.nonEmpty("StreamARN")}
	var present bool
	args.MaxRecordSizeInKiB, present = in.integer("MaxRecordSizeInKiB")
	in.require("MaxRecordSizeInKiB", present)
	if err := in.done(); err != nil {
		return nil, err
	}
	return empty{}, e.UpdateMaxRecordSize(ctx, args)
}

func updateStreamWarmThroughput(ctx context.Context, e *engine.Engine, in object) (any, error) {
	args := engine.UpdateStreamWarmThroughputInput{StreamRef: in.ref()}
	var present bool
	args.WarmThroughputMiBps, present = in.integer("WarmThroughputMiBps")
	in.require("WarmThroughputMiBps", present)
	if err := in.done(); err != nil {
		return nil, err
	}
	out, err := e.UpdateStreamWarmThroughput(ctx, args)
	if err != nil {
		return nil, err
	}
	return struct {
		StreamName     string          `json:"StreamName"`
		StreamARN      string          `json:"StreamARN"`
		WarmThroughput *warmThroughput `json:"WarmThroughput"`
	}{out.StreamName, out.StreamARN, toWarmThroughput(&out.WarmThroughput)}, nil
}

type billingCommitment struct {
	Status               string    `json:"Status"`
	StartedAt            *wireTime `json:"StartedAt,omitempty"`
	EndedAt              *wireTime `json:"EndedAt,omitempty"`
	EarliestAllowedEndAt *wireTime `json:"EarliestAllowedEndAt,omitempty"`
}

func optTime(t time.Time) *wireTime {
	if t.IsZero() {
		return nil
	}
	w := wireTime(t)
	return &w
}

func toAccountSettings(a engine.AccountSettings) any {
	c := a.MinimumThroughputBillingCommitment
	return struct {
		MinimumThroughputBillingCommitment billingCommitment `json:"MinimumThroughputBillingCommitment"`
	}{billingCommitment{Status: string(c.Status), StartedAt: optTime(c.StartedAt), EndedAt: optTime(c.EndedAt), EarliestAllowedEndAt: optTime(c.EarliestAllowedEndAt)}}
}

func describeAccountSettings(ctx context.Context, e *engine.Engine, in object) (any, error) {
	a, err := e.DescribeAccountSettings(ctx)
	if err != nil {
		return nil, err
	}
	return toAccountSettings(a), nil
}

func updateAccountSettings(ctx context.Context, e *engine.Engine, in object) (any, error) {
	var args engine.UpdateAccountSettingsInput
	var c object
	if c, args.CommitmentGiven = in.obj("MinimumThroughputBillingCommitment"); args.CommitmentGiven {
		args.Status = engine.CommitmentStatus(c.enum("Status", "[ENABLED, DISABLED]"))
	}
	if err := in.done(); err != nil {
		return nil, err
	}
	a, err := e.UpdateAccountSettings(ctx, args)
	if err != nil {
		return nil, err
	}
	return toAccountSettings(a), nil
}

func tagResource(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.TagResourceInput{ResourceARN: in.nonEmpty("ResourceARN"), Tags: in.stringMap("Tags")}
	if err := in.done(); err != nil {
		return nil, err
	}
	return empty{}, e.TagResource(ctx, args)
}

func untagResource(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	args := engine.UntagResourceInput{ResourceARN: in.nonEmpty("ResourceARN"), TagKeys: in.strings("TagKeys")}
	if err := in.done(); err != nil {
		return nil, err
	}
	return empty{}, e.UntagResource(ctx, args)
}

func listTagsForResource(ctx context.Context, e *engine.Engine, in object) (any, error) {
	in.str("StreamId")
	arn := in.nonEmpty("ResourceARN")
	if err := in.done(); err != nil {
		return nil, err
	}
	tags, err := e.ListTagsForResource(ctx, arn)
	if err != nil {
		return nil, err
	}
	out := struct {
		Tags []tag `json:"Tags"`
	}{Tags: make([]tag, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, tag{Key: t.Key, Value: t.Value})
	}
	return out, nil
}
