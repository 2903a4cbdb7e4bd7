package engine

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// GiB of a steady rate over an hour: rate·3600/2^30.
func TestEstimateCostTable(t *testing.T) {
	cases := []struct {
		name              string
		shards            int
		rps, in, out      float64
		efo               int
		prov, od          float64
		cheaper           StreamMode
		provShards        int
		basisHas, lineHas string
	}{
		{
			// 4 × 0.015 = 0.06; 3000·3600 = 10.8 M PUT units × 0.014 = 0.1512.
			// 3000 × 1 KiB·3600 = 10.2996826171875 GiB: in × 0.08 + out × 0.04 + 0.04.
			name: "steady 3000 rec/s of 1 KiB: provisioned is cheaper", shards: 4, rps: 3000, in: 3000 * 1024, out: 3000 * 1024,
			prov: 0.2112, od: 0.04 + 10.2996826171875*0.08 + 10.2996826171875*0.04, cheaper: ModeProvisioned, provShards: 4,
			lineHas: "4 shard-hours",
		},
		{
			// 10 × 0.015 + 36,000 units × 0.014/1e6 = 0.150504;
			// 10 KiB/s·3600 = 0.034332275390625 GiB × (0.08 + 0.04) + 0.04.
			name: "a trickle on 10 shards: on-demand is cheaper", shards: 10, rps: 10, in: 10 * 1024, out: 10 * 1024,
			prov: 0.150504, od: 0.04 + 0.034332275390625*0.12, cheaper: ModeOnDemand, provShards: 10,
		},
		{
			// 30,000 B records: 2 PUT units each (25 KiB = 25,600 B), 30 KiB metered on demand.
			// Provisioned: 0.06 + 0.72 M units × 0.014 + 2 consumers × 4 shards × 0.015
			//   + 2 × 10.058283805847168 GiB × 0.013.
			// On-demand: 0.04 + 10.2996826171875 GiB × 0.08 + 2 × 10.2996826171875 × 0.05.
			name: "enhanced fan-out and rounding", shards: 4, rps: 100, in: 3e6, out: 0, efo: 2,
			prov: 0.06 + 0.72*0.014 + 0.12 + 2*10.058283805847168*0.013, od: 0.04 + 10.2996826171875*0.08 + 2*10.2996826171875*0.05,
			cheaper: ModeProvisioned, provShards: 4, basisHas: "2 enhanced fan-out consumers", lineHas: "8 enhanced fan-out consumer-shard-hours",
		},
		{
			// 2,500 rec/s need 3 shards: 0.045 + 9 M units × 0.014 = 0.171;
			// 2500 × 1 KiB (100 B rounds up) ·3600 = 8.58306884765625 GiB × 0.08 + 0.04.
			name: "too few shards: priced at what the writes need", shards: 1, rps: 2500, in: 2500 * 100, out: 0,
			prov: 0.171, od: 0.04 + 8.58306884765625*0.08, cheaper: ModeProvisioned, provShards: 3,
			basisHas: "the writes need 3, the stream has 1",
		},
		{
			name: "idle: only the fixed charges", shards: 4,
			prov: 0.06, od: 0.04, cheaper: ModeOnDemand, provShards: 4,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := EstimateCost(DefaultPrices, c.shards, c.rps, c.in, c.out, c.efo)
			if !near(got.ProvisionedHourly, c.prov) || !near(got.OnDemandHourly, c.od) {
				t.Fatalf("hourly: provisioned %.9f on-demand %.9f, want %.9f and %.9f\n%+v", got.ProvisionedHourly, got.OnDemandHourly, c.prov, c.od, got.Lines)
			}
			if !near(got.ProvisionedMonthly, c.prov*730) || !near(got.OnDemandMonthly, c.od*730) {
				t.Fatalf("monthly %.6f %.6f, want 730 × hourly", got.ProvisionedMonthly, got.OnDemandMonthly)
			}
			if got.Cheaper != c.cheaper || got.ProvisionedShards != c.provShards {
				t.Fatalf("cheaper %s with %d shards, want %s with %d", got.Cheaper, got.ProvisionedShards, c.cheaper, c.provShards)
			}
			var sum [2]float64
			lines := ""
			for _, l := range got.Lines {
				if l.Mode == ModeProvisioned {
					sum[0] += l.Hourly
				} else {
					sum[1] += l.Hourly
				}
				lines += l.Item + "\n"
			}
			if !near(sum[0], got.ProvisionedHourly) || !near(sum[1], got.OnDemandHourly) {
				t.Fatalf("lines do not add up: %v", got.Lines)
			}
			if !strings.Contains(got.Basis, c.basisHas) || !strings.Contains(lines, c.lineHas) {
				t.Fatalf("basis %q / lines %q lack %q / %q", got.Basis, lines, c.basisHas, c.lineHas)
			}
			if !strings.Contains(got.Basis, DefaultPrices.AsOf) {
				t.Fatalf("basis %q does not date its prices", got.Basis)
			}
		})
	}
	// A zero price table means the defaults.
	if a, b := EstimateCost(Prices{}, 4, 10, 10240, 0, 0), EstimateCost(DefaultPrices, 4, 10, 10240, 0, 0); a.ProvisionedHourly != b.ProvisionedHourly || a.OnDemandHourly != b.OnDemandHourly {
		t.Fatalf("zero Prices %v, defaults %v", a, b)
	}
	// A custom table is used as given.
	p := DefaultPrices
	p.ShardHour = 1
	if got := EstimateCost(p, 2, 0, 0, 0, 0); !near(got.ProvisionedHourly, 2) {
		t.Fatalf("custom shard-hour: %v", got.ProvisionedHourly)
	}
}

func TestBreakEvenUtilisation(t *testing.T) {
	// 4 shards of 1 KiB records read once. Provisioned: 0.06 + u·0.2016
	// (4,000 rec/s·3600 PUT units × 0.014/1e6). On-demand: 0.04 +
	// u·1.64794921875 (13.73291015625 GiB × 0.12). They cross at
	// 0.02 / (0.02 + 1.42634921875 − …) = 0.02 / 1.44634921875.
	u, ok := BreakEvenUtilisation(DefaultPrices, 4, 1024, 1, 0)
	if !ok || !near(u, 0.02/(1.64794921875-0.2016)) {
		t.Fatalf("break-even %v %v, want %v", u, ok, 0.02/(1.64794921875-0.2016))
	}
	// One shard costs less than a stream-hour: provisioned is cheaper at any load.
	if u, ok := BreakEvenUtilisation(DefaultPrices, 1, 1024, 1, 0); ok {
		t.Fatalf("one shard: break-even %v, want none", u)
	}
	// EstimateCost reports it for the workload's record size, and Explain says it.
	c := EstimateCost(DefaultPrices, 4, 40, 40*1024, 40*1024, 0)
	if !near(c.BreakEven, u) {
		t.Fatalf("estimate break-even %v, want %v", c.BreakEven, u)
	}
	if s := c.Explain(); !strings.Contains(s, "provisioned wins above 1.4 % of 4 shards' write capacity") {
		t.Fatalf("explain %q", s)
	}
}

func TestSnapshotCostFollowsReshardAndModeSwitch(t *testing.T) {
	env := newEnv(t, Options{})
	env.create("p", 4)
	ref := StreamRef{StreamName: "p"}
	// 100 records/s of 1,004 bytes (1,000 data + a 4-byte key) for a minute.
	for sec := 0; sec < CostWindow; sec++ {
		entries := make([]PutRecordsEntry, 100)
		for i := range entries {
			entries[i] = PutRecordsEntry{PartitionKey: fmt.Sprintf("k%03d", i), Data: make([]byte, 1000)}
		}
		out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: entries})
		if err != nil || out.FailedRecordCount != 0 {
			t.Fatalf("second %d: %v, %d failed", sec, err, out.FailedRecordCount)
		}
		env.clock.Advance(time.Second)
	}
	cost := func() (CostEstimate, *StreamSnapshot) {
		snap := env.e.Snapshot()
		ss := snap.Stream("p")
		return ss.Cost, ss
	}
	c, ss := cost()
	// 4 × 0.015 + 0.36 M units × 0.014; 0.04 + 100 KiB/s·3600 GiB × 0.08.
	if !near(c.ProvisionedHourly, 0.06504) || !near(c.OnDemandHourly, 0.06746582031250001) {
		t.Fatalf("4 shards: %+v", c)
	}
	if c.Cheaper != ModeProvisioned || c.Current != ModeProvisioned || c.CurrentHourly != c.ProvisionedHourly {
		t.Fatalf("4 shards: cheaper %s, current %s at %v", c.Cheaper, c.Current, c.CurrentHourly)
	}
	if !strings.HasPrefix(c.Basis, "last 60 s: 100 records/s") {
		t.Fatalf("basis %q", c.Basis)
	}
	// Utilisation of the last second: 100 of 4,000 records/s is nearer than 100,400 of 4 MiB/s.
	if u := ss.Utilisation; u.By != "records" || !near(u.Max, 0.025) || !near(u.Bytes, 100400.0/(4<<20)) {
		t.Fatalf("utilisation %+v", u)
	}
	if got := ss.Shards[0].WriteUtilisation; got <= 0 || got > 0.1 {
		t.Fatalf("shard utilisation %v", got)
	}
	// Doubling the shards moves the provisioned figure at once and flips the answer.
	if _, err := env.e.UpdateShardCount(ctx, UpdateShardCountInput{StreamRef: ref, TargetShardCount: 8, ScalingType: "UNIFORM_SCALING"}); err != nil {
		t.Fatal(err)
	}
	c, _ = cost()
	if !near(c.ProvisionedHourly, 0.12504) || c.Cheaper != ModeOnDemand || c.Current != ModeProvisioned {
		t.Fatalf("8 shards: %+v", c)
	}
	// Switching mode changes what the stream costs now, not the comparison.
	if err := env.e.UpdateStreamMode(ctx, UpdateStreamModeInput{StreamARN: env.e.arn("p"), Mode: ModeOnDemand}); err != nil {
		t.Fatal(err)
	}
	c, ss = cost()
	if c.Current != ModeOnDemand || c.CurrentHourly != c.OnDemandHourly || !near(c.CurrentMonthly, c.OnDemandHourly*730) || c.Cheaper != ModeOnDemand {
		t.Fatalf("after the switch: %+v", c)
	}
	if ss.Scaling == nil {
		t.Fatal("an on-demand stream has no scaling status")
	}
}
