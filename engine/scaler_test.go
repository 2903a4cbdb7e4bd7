package engine

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

// spreadKeys returns n explicit hash keys spread evenly over r, so that
// every half of r gets half of them.
func spreadKeys(r HashKeyRange, n int) []string {
	start, end := r.Start.Big(), r.End.Big()
	width := new(big.Int).Sub(end, start)
	out := make([]string, n)
	for i := range out {
		k := new(big.Int).Mul(width, big.NewInt(int64(2*i+1)))
		k.Div(k, big.NewInt(int64(2*n)))
		out[i] = k.Add(k, start).String()
	}
	return out
}

// pct is the record size that makes n records a second n % of a shard's
// byte limit (with the 1-byte partition key "k").
const pct = ShardWriteBytesPerSec/100 - 1

// load writes n records of size bytes into r this second, limits on, and
// returns how many were throttled.
func (env *testEnv) load(stream string, r HashKeyRange, n, size int) int {
	env.t.Helper()
	keys := spreadKeys(r, n)
	data := make([]byte, size)
	failed := 0
	for len(keys) > 0 {
		batch := keys[:min(len(keys), MaxPutRecordsEntries)]
		keys = keys[len(batch):]
		entries := make([]PutRecordsEntry, len(batch))
		for i, k := range batch {
			entries[i] = PutRecordsEntry{PartitionKey: "k", ExplicitHashKey: k, Data: data}
		}
		out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: StreamRef{StreamName: stream}, Records: entries})
		if err != nil {
			env.t.Fatalf("load: %v", err)
		}
		failed += out.FailedRecordCount
	}
	return failed
}

// step advances the clock and runs the scaler.
func (env *testEnv) step(d time.Duration) []ScalingDecision {
	env.t.Helper()
	env.clock.Advance(d)
	ds, err := env.e.EvaluateScaling(env.clock.Now())
	if err != nil {
		env.t.Fatalf("evaluate scaling: %v", err)
	}
	return ds
}

func (env *testEnv) openShards(stream string) []Shard {
	env.t.Helper()
	var open []Shard
	for _, sh := range env.shards(stream) {
		if sh.Open() {
			open = append(open, sh)
		}
	}
	sortByStart(open)
	return open
}

func (env *testEnv) createOnDemand(name string) {
	env.t.Helper()
	if err := env.e.CreateStream(ctx, CreateStreamInput{StreamName: name, Mode: ModeOnDemand}); err != nil {
		env.t.Fatalf("create %s: %v", name, err)
	}
}

func TestScalerSplitsHotShardAfterWindow(t *testing.T) {
	env := newEnv(t, Options{ScaleUpWindow: 30 * time.Second, ScaleDownWindow: time.Hour, ScaleCooldown: time.Minute})
	env.createOnDemand("od")
	hot := env.openShards("od")[3]
	for sec := 1; sec <= 30; sec++ {
		if n := env.load("od", hot.HashKeyRange, 96, pct); n != 0 {
			t.Fatalf("second %d: %d throttled at 96 %%", sec, n)
		}
		ds := env.step(time.Second)
		if sec < 30 && len(ds) != 0 {
			t.Fatalf("after %d s: scaled early: %+v", sec, ds)
		}
		if sec == 30 {
			if len(ds) != 1 {
				t.Fatalf("after 30 s: decisions %+v, want one split", ds)
			}
			d := ds[0]
			want := "shard shardId-000000000003 at 96 % of its write limit for 30 s → split into shardId-000000000004, shardId-000000000005"
			if d.Action != ScaleSplit || d.Shards[0] != hot.ShardID || len(d.Children) != 2 || !strings.HasPrefix(d.Reason, want) {
				t.Fatalf("decision %+v\nwant reason %q", d, want)
			}
		}
	}
	shards := env.shards("od")
	if len(shards) != 6 || shards[4].ParentShardID != hot.ShardID || shards[5].ParentShardID != hot.ShardID {
		t.Fatalf("shards after the split: %+v", shards)
	}
	if shards[5].HashKeyRange.Start.String() != MidpointKey(hot.HashKeyRange) {
		t.Fatalf("split at %s, want the midpoint %s", shards[5].HashKeyRange.Start, MidpointKey(hot.HashKeyRange))
	}
	snap := env.e.Snapshot()
	found := false
	for _, ev := range snap.Events {
		if ev.Kind == EventMode && strings.Contains(ev.Message, "at 96 % of its write limit for 30 s → split") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no scaling event in %+v", snap.Events)
	}
	if sc := snap.Stream("od").Scaling; sc == nil || !sc.LastScale.Equal(env.clock.Now()) || sc.CooldownUntil.IsZero() {
		t.Fatalf("scaling status %+v", sc)
	}
	// The same load now lands on two shards at 48 %: nothing more happens.
	for sec := 0; sec < 60; sec++ {
		env.load("od", hot.HashKeyRange, 96, pct)
		if ds := env.step(time.Second); len(ds) != 0 {
			t.Fatalf("absorbed load scaled again: %+v", ds)
		}
	}
}

func TestScalerSplitsForTwicePeakThenConsolidatesToFour(t *testing.T) {
	env := newEnv(t, Options{ScaleUpWindow: 20 * time.Second, ScaleDownWindow: 2 * time.Minute, ScaleCooldown: 30 * time.Second})
	env.createOnDemand("od")
	quarters := env.openShards("od")
	throttled := 0
	var ds []ScalingDecision
	for sec := 1; sec <= 20; sec++ {
		for _, q := range quarters {
			throttled += env.load("od", q.HashKeyRange, 120, pct)
		}
		ds = env.step(time.Second)
		if sec < 20 && len(ds) != 0 {
			t.Fatalf("after %d s: scaled early: %+v", sec, ds)
		}
	}
	if throttled != 4*20*20 {
		t.Fatalf("%d writes throttled, want 20 a second per shard", throttled)
	}
	// Demand is 120 % of a shard: twice that needs 2.4 shards, so each
	// quarter is halved twice into 4.
	if len(ds) != 4 {
		t.Fatalf("decisions %+v, want 4 splits", ds)
	}
	for _, d := range ds {
		if d.Action != ScaleSplit || len(d.Children) != 4 || !strings.Contains(d.Reason, "at 120 % of its write limit for 20 s, 400 writes throttled → split into 4:") {
			t.Fatalf("decision %+v", d)
		}
	}
	if n := len(env.openShards("od")); n != 16 {
		t.Fatalf("%d open shards, want 16", n)
	}
	// Quiet: after the down window pairs merge, then pairs of pairs, and no further.
	var merges []time.Duration
	start := env.clock.Now()
	for i := 0; i < 12*15; i++ { // 15 minutes in 5 s steps
		for _, d := range env.step(5 * time.Second) {
			if d.Action != ScaleMerge || len(d.Shards) != 2 || len(d.Children) != 1 {
				t.Fatalf("decision %+v", d)
			}
			if !strings.Contains(d.Reason, "under 20 % of their write limit for 2 min → merged into") {
				t.Fatalf("reason %q", d.Reason)
			}
			merges = append(merges, env.clock.Now().Sub(start))
		}
	}
	if len(merges) != 12 {
		t.Fatalf("%d merges at %v, want 12 (16 → 8 → 4)", len(merges), merges)
	}
	for i, at := range merges {
		want := 2 * time.Minute
		if i >= 8 {
			want = 4 * time.Minute
		}
		if at != want {
			t.Fatalf("merge %d at %v, want %v", i, at, want)
		}
	}
	open := env.openShards("od")
	if len(open) != OnDemandInitialShards {
		t.Fatalf("%d open shards, want %d", len(open), OnDemandInitialShards)
	}
	for i, r := range evenRanges(4) {
		if open[i].HashKeyRange != r {
			t.Fatalf("open shard %d covers %v, want %v", i, open[i].HashKeyRange, r)
		}
	}
}

func TestScalerRespectsCooldown(t *testing.T) {
	env := newEnv(t, Options{ScaleUpWindow: 30 * time.Second, ScaleDownWindow: time.Hour, ScaleCooldown: time.Minute})
	env.createOnDemand("od")
	quarters := env.openShards("od")
	for sec := 1; sec <= 30; sec++ {
		env.load("od", quarters[3].HashKeyRange, 96, pct)
		env.step(time.Second)
	}
	if n := len(env.openShards("od")); n != 5 {
		t.Fatalf("%d open shards after the first split, want 5", n)
	}
	// Shard 0 turns hot now: its window ends in 30 s, the cooldown in 60 s.
	for sec := 31; sec <= 90; sec++ {
		env.load("od", quarters[0].HashKeyRange, 99, pct)
		ds := env.step(time.Second)
		if sec < 90 && len(ds) != 0 {
			t.Fatalf("at %d s, inside the cooldown: %+v", sec, ds)
		}
		if sec == 90 && (len(ds) != 1 || ds[0].Shards[0] != quarters[0].ShardID || !strings.Contains(ds[0].Reason, "at 99 % of its write limit for 60 s")) {
			t.Fatalf("at the end of the cooldown: %+v", ds)
		}
	}
}

func TestScalerNeverTouchesProvisioned(t *testing.T) {
	env := newEnv(t, Options{ScaleUpWindow: 5 * time.Second, ScaleDownWindow: 10 * time.Second, ScaleCooldown: -1})
	env.create("p", 1)
	env.create("quiet", 8)
	env.createOnDemand("od")
	arn := env.e.arn("od")
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: arn, Mode: ModeProvisioned}); err != nil {
		t.Fatal(err)
	}
	all := HashKeyRange{End: MaxHashKey}
	throttled := 0
	for sec := 0; sec < 15; sec++ {
		throttled += env.load("p", all, 150, pct)
		throttled += env.load("od", all, 440, pct)
		if ds := env.step(time.Second); len(ds) != 0 {
			t.Fatalf("provisioned streams scaled: %+v", ds)
		}
	}
	if throttled == 0 {
		t.Fatal("the load was never throttled")
	}
	for name, want := range map[string]int{"p": 1, "quiet": 8, "od": 4} {
		if n := len(env.openShards(name)); n != want {
			t.Fatalf("%s has %d open shards, want %d", name, n, want)
		}
	}
	snap := env.e.Snapshot()
	if snap.Stream("p").Scaling != nil {
		t.Fatal("a provisioned stream reports scaler state")
	}
	// Its utilisation says how close it is to its capacity: the last second
	// carried 100 records of 1 % of a MiB.
	if u := snap.Stream("p").Utilisation; u.By != "bytes" || u.Max < 0.99 || u.Max > 1 || !near(u.Records, 0.1) {
		t.Fatalf("utilisation %+v", u)
	}
}

func TestScalerStateSurvivesReopen(t *testing.T) {
	env := newEnv(t, Options{ScaleUpWindow: 30 * time.Second, ScaleDownWindow: 5 * time.Minute, ScaleCooldown: 2 * time.Minute})
	env.createOnDemand("od")
	quarters := env.openShards("od")
	for sec := 1; sec <= 30; sec++ {
		env.load("od", quarters[3].HashKeyRange, 96, pct)
		env.step(time.Second)
	}
	env.reopen()
	open := env.openShards("od")
	if len(open) != 5 || len(env.shards("od")) != 6 {
		t.Fatalf("after reopen: %d open of %d shards, want 5 of 6", len(open), len(env.shards("od")))
	}
	// Shards 0 and 1 have been cold since the first evaluation at t0; that
	// survived the reopen, so they merge 5 minutes after t0, not 5 minutes
	// after the reopen.
	var merged time.Time
	for merged.IsZero() && env.clock.Now().Before(t0.Add(10*time.Minute)) {
		for _, d := range env.step(5 * time.Second) {
			if d.Action != ScaleMerge || d.Shards[0] != quarters[0].ShardID || d.Shards[1] != quarters[1].ShardID {
				t.Fatalf("decision %+v", d)
			}
			merged = d.At
		}
	}
	if !merged.Equal(t0.Add(5 * time.Minute)) {
		t.Fatalf("merged at %v, want t0+5m (%v)", merged.Sub(t0), 5*time.Minute)
	}
	// The last action's time survives too: a shard hot right after the
	// reopen waits out the cooldown.
	env.reopen()
	hotFrom := env.clock.Now()
	for {
		env.load("od", quarters[2].HashKeyRange, 96, pct)
		ds := env.step(time.Second)
		if len(ds) > 0 {
			if ds[0].Shards[0] != quarters[2].ShardID || !ds[0].At.Equal(merged.Add(2*time.Minute)) {
				t.Fatalf("split %+v at %v after the merge, want at the end of the 2 min cooldown", ds[0], ds[0].At.Sub(merged))
			}
			break
		}
		if env.clock.Now().Sub(hotFrom) > 5*time.Minute {
			t.Fatal("no split")
		}
	}
	// Never below four: after a long quiet spell, only merges that keep four.
	for i := 0; i < 120; i++ {
		env.step(10 * time.Second)
	}
	if n := len(env.openShards("od")); n != OnDemandInitialShards {
		t.Fatalf("%d open shards after quiet, want %d", n, OnDemandInitialShards)
	}
}

func TestScalerArithmetic(t *testing.T) {
	for _, c := range []struct {
		r    Rate
		want float64
	}{
		{Rate{RecordsIn: 960, BytesIn: 960 * 100}, 0.96},                      // records nearer their limit
		{Rate{RecordsIn: 10, BytesIn: 3 << 19}, 1.5},                          // bytes nearer
		{Rate{RecordsIn: 1000, BytesIn: 1000 * 10, WriteThrottled: 400}, 1.4}, // throttled writes are demand too
		{Rate{RecordsIn: 100, BytesIn: 1 << 20, WriteThrottled: 20}, 1.2},     // … scaling bytes alike
		{Rate{WriteThrottled: 5}, 0.005},
		{Rate{}, 0},
	} {
		if got := demand(c.r); !near(got, c.want) {
			t.Fatalf("demand(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
	for peak, want := range map[float64]int{0.51: 2, 0.96: 2, 1.0: 2, 1.2: 4, 1.4: 4, 2.0: 4, 2.1: 8, 9: 8} {
		if got := piecesFor(peak); got != want {
			t.Fatalf("piecesFor(%v) = %d, want %d", peak, got, want)
		}
	}
	for d, want := range map[time.Duration]string{30 * time.Second: "30 s", 5 * time.Minute: "5 min", 24 * time.Hour: "24 h", 30 * 24 * time.Hour: "30 d"} {
		if got := roughDuration(d); got != want {
			t.Fatalf("roughDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
