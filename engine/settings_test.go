package engine

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnhancedMonitoring(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}

	// Bad input is refused before the stream is looked up, and changes nothing.
	for _, bad := range [][]string{nil, {}, {"IncomingBytes", "Nope"}, append(slices.Clone(ShardLevelMetrics), "ALL")} {
		_, err := env.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: StreamRef{StreamName: "missing"}, ShardLevelMetrics: bad})
		wantCode(t, err, ValidationException)
	}
	_, err := env.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: ref, ShardLevelMetrics: []string{"incomingbytes"}})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes,") {
		t.Fatalf("message %q", err)
	}
	_, err = env.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: StreamRef{StreamName: "missing"}, ShardLevelMetrics: []string{"IncomingBytes"}})
	wantCode(t, err, ResourceNotFoundException)

	out, err := env.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: ref, ShardLevelMetrics: []string{"OutgoingBytes", "IncomingBytes", "IncomingBytes"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.StreamName != "s" || out.StreamARN != env.e.arn("s") || len(out.CurrentShardLevelMetrics) != 0 || out.CurrentShardLevelMetrics == nil ||
		!slices.Equal(out.DesiredShardLevelMetrics, []string{"IncomingBytes", "OutgoingBytes"}) {
		t.Fatalf("enable: %+v", out)
	}
	// The stream stays ACTIVE: monitoring is no reshard.
	if d, _ := env.e.DescribeStreamSummary(ctx, ref); d.StreamStatus != StatusActive || !slices.Equal(d.EnhancedMonitoring, []string{"IncomingBytes", "OutgoingBytes"}) {
		t.Fatalf("summary: %s %v", d.StreamStatus, d.EnhancedMonitoring)
	}

	out, err = env.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: ref, ShardLevelMetrics: []string{MetricsAll}})
	if err != nil || !slices.Equal(out.CurrentShardLevelMetrics, []string{"IncomingBytes", "OutgoingBytes"}) || !slices.Equal(out.DesiredShardLevelMetrics, ShardLevelMetrics) {
		t.Fatalf("enable ALL: %+v %v", out, err)
	}
	out, err = env.e.DisableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: StreamRef{StreamARN: env.e.arn("s")}, ShardLevelMetrics: []string{"IteratorAgeMilliseconds", "IncomingRecords"}})
	want := []string{"IncomingBytes", "OutgoingBytes", "OutgoingRecords", "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded"}
	if err != nil || !slices.Equal(out.CurrentShardLevelMetrics, ShardLevelMetrics) || !slices.Equal(out.DesiredShardLevelMetrics, want) {
		t.Fatalf("disable: %+v %v", out, err)
	}

	// It survives a reopen, and the console sees it.
	env.reopen()
	if d, _ := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref}); !slices.Equal(d.EnhancedMonitoring, want) {
		t.Fatalf("after reopen: %v", d.EnhancedMonitoring)
	}
	if got := snapStream(env, "s").EnhancedMetrics; !slices.Equal(got, want) {
		t.Fatalf("snapshot: %v", got)
	}
	out, err = env.e.DisableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: ref, ShardLevelMetrics: []string{MetricsAll}})
	if err != nil || !slices.Equal(out.CurrentShardLevelMetrics, want) || len(out.DesiredShardLevelMetrics) != 0 {
		t.Fatalf("disable ALL: %+v %v", out, err)
	}
	if d, _ := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: ref}); d.EnhancedMonitoring == nil || len(d.EnhancedMonitoring) != 0 {
		t.Fatalf("after disable: %#v", d.EnhancedMonitoring)
	}

	// Only an ACTIVE stream takes the change.
	env2 := newEnv(t, Options{CreateDelay: time.Minute})
	env2.create("c", 1)
	_, err = env2.e.EnableEnhancedMonitoring(ctx, EnhancedMonitoringInput{StreamRef: StreamRef{StreamName: "c"}, ShardLevelMetrics: []string{MetricsAll}})
	wantCode(t, err, ResourceInUseException)
}

func TestMaxRecordSize(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	arn := env.e.arn("s")

	for _, n := range []int{0, 1023, 10241} {
		wantCode(t, env.e.UpdateMaxRecordSize(ctx, UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: n}), ValidationException)
	}
	wantCode(t, env.e.UpdateMaxRecordSize(ctx, UpdateMaxRecordSizeInput{StreamARN: env.e.arn("missing"), MaxRecordSizeInKiB: 2048}), ResourceNotFoundException)
	wantCode(t, env.e.UpdateMaxRecordSize(ctx, UpdateMaxRecordSizeInput{MaxRecordSizeInKiB: 2048}), InvalidArgumentException)
	if d, _ := env.e.DescribeStreamSummary(ctx, ref); d.MaxRecordSizeInKiB != 1024 {
		t.Fatalf("default %d KiB", d.MaxRecordSizeInKiB)
	}

	// At the default, a record over 1 MiB is refused as before.
	big := make([]byte, 4<<20)
	_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: big[:1<<20+1]})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576") {
		t.Fatalf("message %q", err)
	}
	_, err = env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: []PutRecordsEntry{{PartitionKey: "k", Data: []byte("x")}, {PartitionKey: "k", Data: big[:1<<20+1]}}})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "'records.2.member.data'") {
		t.Fatalf("message %q", err)
	}
	// Past the model's 10 MiB nothing is looked up.
	_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "missing"}, PartitionKey: "k", Data: make([]byte, 10<<20+1)})
	wantCode(t, err, ValidationException)

	if err := env.e.UpdateMaxRecordSize(ctx, UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: 4096}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: big}); err != nil {
		t.Fatalf("4 MiB record on a 4 MiB stream: %v", err)
	}
	_, err = env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: append(big, 0)})
	wantCode(t, err, ValidationException)
	if !strings.Contains(err.Error(), "less than or equal to 4194304") {
		t.Fatalf("message %q", err)
	}

	env.reopen()
	if d, _ := env.e.DescribeStreamSummary(ctx, ref); d.MaxRecordSizeInKiB != 4096 {
		t.Fatalf("after reopen %d KiB", d.MaxRecordSizeInKiB)
	}
	if s := snapStream(env, "s"); s.MaxRecordSizeKiB != 4096 {
		t.Fatalf("snapshot %d KiB", s.MaxRecordSizeKiB)
	}
	recs, _, _ := env.readAll(env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{}))
	if len(recs) != 1 || len(recs[0].Data) != 4<<20 {
		t.Fatalf("read back %d records", len(recs))
	}
	if err := env.e.UpdateMaxRecordSize(ctx, UpdateMaxRecordSizeInput{StreamARN: arn, MaxRecordSizeInKiB: 10240}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: make([]byte, 10<<20)}); err != nil {
		t.Fatalf("10 MiB record: %v", err)
	}
}

func TestAccountSettings(t *testing.T) {
	env := newEnv(t, Options{})
	a, err := env.e.DescribeAccountSettings(ctx)
	if err != nil || a.MinimumThroughputBillingCommitment != (BillingCommitment{Status: CommitmentDisabled}) {
		t.Fatalf("initial: %+v %v", a, err)
	}
	for _, in := range []UpdateAccountSettingsInput{{}, {CommitmentGiven: true}, {CommitmentGiven: true, Status: "ON"}, {CommitmentGiven: true, Status: CommitmentEnding}} {
		_, err := env.e.UpdateAccountSettings(ctx, in)
		wantCode(t, err, ValidationException)
	}
	start := env.clock.Now()
	a, err = env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentEnabled})
	want := BillingCommitment{Status: CommitmentEnabled, StartedAt: start, EarliestAllowedEndAt: start.Add(24 * time.Hour)}
	if err != nil || !sameCommitment(a.MinimumThroughputBillingCommitment, want) {
		t.Fatalf("enable: %+v %v", a, err)
	}
	// Disabled within the 24 hours, it runs to their end; enabled again, it goes on.
	env.clock.Advance(time.Hour)
	a, _ = env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentDisabled})
	want.Status, want.EndedAt = CommitmentEnding, start.Add(24*time.Hour)
	if !sameCommitment(a.MinimumThroughputBillingCommitment, want) {
		t.Fatalf("early disable: %+v", a)
	}
	env.reopen()
	a, _ = env.e.DescribeAccountSettings(ctx)
	if !sameCommitment(a.MinimumThroughputBillingCommitment, want) {
		t.Fatalf("after reopen: %+v", a)
	}
	a, _ = env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentEnabled})
	want.Status, want.EndedAt = CommitmentEnabled, time.Time{}
	if !sameCommitment(a.MinimumThroughputBillingCommitment, want) {
		t.Fatalf("re-enable: %+v", a)
	}
	env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentDisabled})
	env.clock.Advance(23 * time.Hour)
	a, _ = env.e.DescribeAccountSettings(ctx)
	if a.MinimumThroughputBillingCommitment.Status != CommitmentDisabled || !a.MinimumThroughputBillingCommitment.EndedAt.Equal(start.Add(24*time.Hour)) {
		t.Fatalf("after the scheduled end: %+v", a)
	}
	// After the minimum, disabling is immediate.
	later := env.clock.Now()
	env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentEnabled})
	env.clock.Advance(25 * time.Hour)
	a, _ = env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentDisabled})
	if c := a.MinimumThroughputBillingCommitment; c.Status != CommitmentDisabled || !c.StartedAt.Equal(later) || !c.EndedAt.Equal(env.clock.Now()) {
		t.Fatalf("late disable: %+v", c)
	}
}

func sameCommitment(a, b BillingCommitment) bool {
	return a.Status == b.Status && a.StartedAt.Equal(b.StartedAt) && a.EndedAt.Equal(b.EndedAt) && a.EarliestAllowedEndAt.Equal(b.EarliestAllowedEndAt)
}

func TestWarmThroughput(t *testing.T) {
	env := newEnv(t, Options{ScaleDownWindow: time.Minute, ScaleCooldown: -1, UpdateDelay: time.Minute})
	env.createOnDemand("od")
	env.create("p", 1)
	env.clock.Advance(2 * time.Minute)
	in := UpdateStreamWarmThroughputInput{StreamRef: StreamRef{StreamName: "od"}, WarmThroughputMiBps: 10}

	// Summary reports the on-demand stream's capacity and no target yet.
	if d, _ := env.e.DescribeStreamSummary(ctx, in.StreamRef); d.WarmThroughput == nil || *d.WarmThroughput != (WarmThroughput{CurrentMiBps: 4}) {
		t.Fatalf("before: %+v", d.WarmThroughput)
	}
	if d, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "p"}); d.WarmThroughput != nil {
		t.Fatalf("provisioned: %+v", d.WarmThroughput)
	}
	// It needs the account's commitment, an ON_DEMAND stream and a sane target.
	_, err := env.e.UpdateStreamWarmThroughput(ctx, in)
	wantCode(t, err, InvalidArgumentException)
	if _, err := env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentEnabled}); err != nil {
		t.Fatal(err)
	}
	_, err = env.e.UpdateStreamWarmThroughput(ctx, UpdateStreamWarmThroughputInput{StreamRef: StreamRef{StreamName: "p"}, WarmThroughputMiBps: 10})
	wantCode(t, err, InvalidArgumentException)
	_, err = env.e.UpdateStreamWarmThroughput(ctx, UpdateStreamWarmThroughputInput{StreamRef: in.StreamRef, WarmThroughputMiBps: -1})
	wantCode(t, err, ValidationException)
	_, err = env.e.UpdateStreamWarmThroughput(ctx, UpdateStreamWarmThroughputInput{StreamRef: in.StreamRef, WarmThroughputMiBps: MaxWarmThroughputMiBps + 1})
	wantCode(t, err, InvalidArgumentException)
	if n := len(env.openShards("od")); n != 4 {
		t.Fatalf("refused calls changed the stream: %d open", n)
	}

	out, err := env.e.UpdateStreamWarmThroughput(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.StreamName != "od" || out.WarmThroughput != (WarmThroughput{TargetMiBps: 10, CurrentMiBps: 4}) {
		t.Fatalf("update: %+v", out)
	}
	if n := len(env.openShards("od")); n != 10 {
		t.Fatalf("%d open shards, want 10 for 10 MiB/s", n)
	}
	d, _ := env.e.DescribeStreamSummary(ctx, in.StreamRef)
	if d.StreamStatus != StatusUpdating || *d.WarmThroughput != (WarmThroughput{TargetMiBps: 10, CurrentMiBps: 10}) {
		t.Fatalf("after: %s %+v", d.StreamStatus, d.WarmThroughput)
	}
	_, err = env.e.UpdateStreamWarmThroughput(ctx, in)
	wantCode(t, err, ResourceInUseException)

	// The scaler keeps it through a long quiet spell, and a reopen.
	env.reopen()
	for i := 0; i < 30; i++ {
		env.step(10 * time.Second)
	}
	if n := len(env.openShards("od")); n != 10 {
		t.Fatalf("%d open shards after quiet, want the 10 of the warm throughput", n)
	}
	if s := snapStream(env, "od"); s.WarmThroughput == nil || s.WarmThroughput.TargetMiBps != 10 {
		t.Fatalf("snapshot: %+v", s.WarmThroughput)
	}
	// A lower target lets the scaler give capacity back down to it.
	if _, err := env.e.UpdateStreamWarmThroughput(ctx, UpdateStreamWarmThroughputInput{StreamRef: in.StreamRef, WarmThroughputMiBps: 6}); err != nil {
		t.Fatal(err)
	}
	if n := len(env.openShards("od")); n != 10 {
		t.Fatalf("lowering split or merged at once: %d open", n)
	}
	for i := 0; i < 30; i++ {
		env.step(10 * time.Second)
	}
	if n := len(env.openShards("od")); n < 6 || n > 8 {
		t.Fatalf("%d open shards after lowering to 6 MiB/s, want 6–8 (pairs merge)", n)
	}
	// Switching to PROVISIONED drops the setting.
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: env.e.arn("od"), Mode: ModeProvisioned}); err != nil {
		t.Fatal(err)
	}
	if d, _ := env.e.DescribeStreamSummary(ctx, in.StreamRef); d.WarmThroughput != nil {
		t.Fatalf("provisioned again: %+v", d.WarmThroughput)
	}
}

func snapStream(env *testEnv, name string) *StreamSnapshot {
	snap := env.e.Snapshot()
	return snap.Stream(name)
}

func TestCreateStreamAndModeSwitchSettings(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	// The record size at creation, checked like UpdateMaxRecordSize's.
	wantCode(t, env.e.CreateStream(ctx, CreateStreamInput{StreamName: "s", ShardCount: 1, MaxRecordSizeInKiB: 512}), ValidationException)
	if err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: "s", ShardCount: 1, MaxRecordSizeInKiB: 2048}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", Data: make([]byte, 2<<20)}); err != nil {
		t.Fatalf("2 MiB record: %v", err)
	}
	// Warm throughput at creation needs ON_DEMAND and the commitment, and
	// then starts with the shards it needs.
	wantCode(t, env.e.CreateStream(ctx, CreateStreamInput{StreamName: "od", Mode: ModeOnDemand, WarmThroughputMiBps: 12}), InvalidArgumentException)
	env.e.UpdateAccountSettings(ctx, UpdateAccountSettingsInput{CommitmentGiven: true, Status: CommitmentEnabled})
	wantCode(t, env.e.CreateStream(ctx, CreateStreamInput{StreamName: "p", ShardCount: 1, WarmThroughputMiBps: 12}), InvalidArgumentException)
	wantCode(t, env.e.CreateStream(ctx, CreateStreamInput{StreamName: "od", Mode: ModeOnDemand, WarmThroughputMiBps: -1}), ValidationException)
	if err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: "od", Mode: ModeOnDemand, WarmThroughputMiBps: 12}); err != nil {
		t.Fatal(err)
	}
	if sh := env.shards("od"); len(sh) != 12 {
		t.Fatalf("%d shards, want 12 even ones for 12 MiB/s", len(sh))
	}
	// Switching to ON_DEMAND may set it too; to PROVISIONED drops it.
	wantCode(t, env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: env.e.arn("s"), Mode: ModeOnDemand, WarmThroughputMiBps: MaxWarmThroughputMiBps + 1}), InvalidArgumentException)
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: env.e.arn("s"), Mode: ModeOnDemand, WarmThroughputMiBps: 3}); err != nil {
		t.Fatal(err)
	}
	env.reopen()
	d, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"})
	if d.MaxRecordSizeInKiB != 2048 || d.WarmThroughput == nil || *d.WarmThroughput != (WarmThroughput{TargetMiBps: 3, CurrentMiBps: 3}) {
		t.Fatalf("after the switch: %d KiB, %+v", d.MaxRecordSizeInKiB, d.WarmThroughput)
	}
	if d, _ := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "od"}); *d.WarmThroughput != (WarmThroughput{TargetMiBps: 12, CurrentMiBps: 12}) {
		t.Fatalf("od: %+v", d.WarmThroughput)
	}
}
