package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Prices is the cost meter's price table, in US dollars. The zero value
// means DefaultPrices.
type Prices struct {
	// AsOf says when and where the figures were list prices.
	AsOf string

	// Provisioned mode: shard-hours plus PUT payload units, each record
	// rounded up to whole units of PutUnitBytes.
	ShardHour          float64
	PutUnitsPerMillion float64
	PutUnitBytes       int
	// Enhanced fan-out on a provisioned stream: consumer-shard-hours plus
	// data retrieved.
	EFOConsumerShardHour float64
	EFODataPerGB         float64

	// On-demand mode: a per-stream hour plus data in and data out, each
	// record metered rounded up to OnDemandRoundBytes.
	OnDemandStreamHour   float64
	OnDemandDataInPerGB  float64
	OnDemandDataOutPerGB float64
	// Enhanced fan-out on an on-demand stream: data retrieved only (the
	// on-demand table has no consumer-shard-hour).
	OnDemandEFODataPerGB float64
	OnDemandRoundBytes   int
}

// DefaultPrices are the us-east-1 (N. Virginia) list prices of Amazon
// Kinesis Data Streams (On-demand Standard and Provisioned) as published on
// the service's pricing page as of 2025 (unchanged since on-demand mode
// launched in November 2021). They are list prices as of that date and may
// have changed since; they differ by region, and they leave out extended
// retention, data transfer, taxes and the account-level On-demand Advantage
// mode. A GB is billed as 2^30 bytes.
//
// On-demand enhanced fan-out is charged per GB retrieved ($0.05/GB in the
// published table) with no consumer-shard-hour; the meter includes it as
// such.
var DefaultPrices = Prices{
	AsOf:                 "us-east-1 list prices as of 2025 (may have changed)",
	ShardHour:            0.015,
	PutUnitsPerMillion:   0.014,
	PutUnitBytes:         25 << 10,
	EFOConsumerShardHour: 0.015,
	EFODataPerGB:         0.013,
	OnDemandStreamHour:   0.04,
	OnDemandDataInPerGB:  0.08,
	OnDemandDataOutPerGB: 0.04,
	OnDemandEFODataPerGB: 0.05,
	OnDemandRoundBytes:   1 << 10,
}

// HoursPerMonth is the month the service's price examples use.
const HoursPerMonth = 730

const bytesPerGB = 1 << 30

// CostEstimate is what a workload would cost in each capacity mode.
type CostEstimate struct {
	ProvisionedHourly  float64
	OnDemandHourly     float64
	ProvisionedMonthly float64
	OnDemandMonthly    float64
	// Cheaper is the mode that costs less (ON_DEMAND on a tie).
	Cheaper StreamMode
	// ProvisionedShards is how many shards the provisioned figure pays for:
	// the shard count given, or more when the workload needs more.
	ProvisionedShards int
	// Lines itemise both hourly figures.
	Lines []CostLine
	// BreakEven is the share of the provisioned write capacity (0–1) at
	// which both modes cost the same for records of this workload's average
	// size and read pattern: below it on-demand is cheaper, above it
	// provisioned. 0 when there is no traffic to size records by or the
	// costs do not cross below full capacity.
	BreakEven float64
	// Basis says what the figures were computed from.
	Basis string
	// Window is how much measured time a snapshot's figures average:
	// CostWindow seconds, or less just after the engine started; set in
	// snapshots only.
	Window time.Duration

	// Current is the stream's mode and CurrentHourly/CurrentMonthly what it
	// costs in that mode; set in snapshots only.
	Current        StreamMode
	CurrentHourly  float64
	CurrentMonthly float64
}

// CostLine is one item of a CostEstimate.
type CostLine struct {
	Mode   StreamMode
	Item   string
	Hourly float64
}

// EstimateCost prices a steady workload in both capacity modes, per hour
// and per 730-hour month. shards is the stream's open shard count (the
// provisioned figure pays for at least as many shards as the writes need);
// records and bytes are per second, bytes counting data plus partition key;
// bytesOutPerSec is what shared (GetRecords) consumers read; each of the
// efoConsumers enhanced fan-out consumers is taken to read every record.
//
// Per-record rounding (25 KiB PUT payload units, 1 KiB on-demand metering)
// uses the average record size, so a workload of mixed sizes is slightly
// under-counted.
func EstimateCost(p Prices, shards int, recordsPerSec, bytesInPerSec, bytesOutPerSec float64, efoConsumers int) CostEstimate {
	if p == (Prices{}) {
		p = DefaultPrices
	}
	c := estimate(p, shards, recordsPerSec, bytesInPerSec, bytesOutPerSec, efoConsumers)
	if recordsPerSec > 0 && bytesInPerSec > 0 {
		reads := bytesOutPerSec / bytesInPerSec
		if u, ok := BreakEvenUtilisation(p, c.ProvisionedShards, bytesInPerSec/recordsPerSec, reads, efoConsumers); ok {
			c.BreakEven = u
		}
	}
	return c
}

func estimate(p Prices, shards int, rps, bin, bout float64, efo int) CostEstimate {
	rps, bin, bout = max(rps, 0), max(bin, 0), max(bout, 0)
	efo = max(efo, 0)
	var avg, units, metered float64
	if rps > 0 {
		avg = bin / rps
		units = max(1, ceilish(avg/float64(max(p.PutUnitBytes, 1))))
		round := float64(max(p.OnDemandRoundBytes, 1))
		metered = max(1, ceilish(avg/round)) * round
	}
	// On-demand meters reads of the same records with the same rounding.
	factor := 1.0
	if bin > 0 && metered > 0 {
		factor = metered * rps / bin
	}
	need := int(ceilish(max(rps/ShardWriteRecordsPerSec, bin/ShardWriteBytesPerSec)))
	n := max(shards, need, 1)
	gbIn := bin * 3600 / bytesPerGB
	gbMetered := rps * metered * 3600 / bytesPerGB
	gbOut := bout * factor * 3600 / bytesPerGB

	c := CostEstimate{ProvisionedShards: n}
	line := func(m StreamMode, v float64, format string, args ...any) {
		c.Lines = append(c.Lines, CostLine{Mode: m, Item: fmt.Sprintf(format, args...), Hourly: v})
		if m == ModeProvisioned {
			c.ProvisionedHourly += v
		} else {
			c.OnDemandHourly += v
		}
	}
	line(ModeProvisioned, float64(n)*p.ShardHour, "%s × $%g", plural(int64(n), "shard-hour"), p.ShardHour)
	putM := rps * 3600 * units / 1e6
	line(ModeProvisioned, putM*p.PutUnitsPerMillion, "%.4g M PUT payload units (%g per record) × $%g per million", putM, units, p.PutUnitsPerMillion)
	if efo > 0 {
		line(ModeProvisioned, float64(efo*n)*p.EFOConsumerShardHour, "%s × $%g", plural(int64(efo*n), "enhanced fan-out consumer-shard-hour"), p.EFOConsumerShardHour)
		line(ModeProvisioned, float64(efo)*gbIn*p.EFODataPerGB, "%.4g GB enhanced fan-out retrieval × $%g", float64(efo)*gbIn, p.EFODataPerGB)
	}
	line(ModeOnDemand, p.OnDemandStreamHour, "1 stream-hour × $%g", p.OnDemandStreamHour)
	line(ModeOnDemand, gbMetered*p.OnDemandDataInPerGB, "%.4g GB in (each record rounded up to a whole KiB) × $%g", gbMetered, p.OnDemandDataInPerGB)
	line(ModeOnDemand, gbOut*p.OnDemandDataOutPerGB, "%.4g GB out × $%g", gbOut, p.OnDemandDataOutPerGB)
	if efo > 0 {
		line(ModeOnDemand, float64(efo)*gbMetered*p.OnDemandEFODataPerGB, "%.4g GB enhanced fan-out retrieval × $%g", float64(efo)*gbMetered, p.OnDemandEFODataPerGB)
	}
	c.ProvisionedMonthly = c.ProvisionedHourly * HoursPerMonth
	c.OnDemandMonthly = c.OnDemandHourly * HoursPerMonth
	c.Cheaper = ModeOnDemand
	if c.ProvisionedHourly < c.OnDemandHourly {
		c.Cheaper = ModeProvisioned
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%.0f records/s, %s/s in, %s/s out", rps, humanBytes(bin), humanBytes(bout))
	if rps > 0 {
		fmt.Fprintf(&b, ", average record %s", humanBytes(avg))
	}
	fmt.Fprintf(&b, "; %s", plural(int64(n), "shard"))
	if n > shards && shards > 0 {
		fmt.Fprintf(&b, " (the writes need %d, the stream has %d)", n, shards)
	}
	if efo > 0 {
		fmt.Fprintf(&b, "; %s each reading every record", plural(int64(efo), "enhanced fan-out consumer"))
	}
	fmt.Fprintf(&b, "; %d h a month; %s", HoursPerMonth, p.AsOf)
	c.Basis = b.String()
	return c
}

// BreakEvenUtilisation finds the share u (0 < u ≤ 1) of a provisioned
// stream's write capacity at which on-demand and provisioned cost the same,
// for records of recordBytes, read back readsPerWrite times by shared
// consumers and once by each enhanced fan-out consumer. Both costs grow in
// a straight line with the load, so u is exact. ok is false when they do not
// cross in (0, 1]: one mode is cheaper at every load the shards can carry.
func BreakEvenUtilisation(p Prices, shards int, recordBytes, readsPerWrite float64, efoConsumers int) (u float64, ok bool) {
	if p == (Prices{}) {
		p = DefaultPrices
	}
	if shards < 1 || recordBytes <= 0 {
		return 0, false
	}
	perShard := min(ShardWriteRecordsPerSec, ShardWriteBytesPerSec/recordBytes)
	full := perShard * float64(shards)
	diff := func(u float64) float64 {
		r := u * full
		c := estimate(p, shards, r, r*recordBytes, r*recordBytes*readsPerWrite, efoConsumers)
		return c.ProvisionedHourly - c.OnDemandHourly
	}
	// At zero load estimate prices no records at all, which is the limit of
	// the line as the load goes to zero, so two points fix it.
	d0, d1 := diff(0), diff(1)
	if d0 == d1 {
		return 0, false
	}
	u = d0 / (d0 - d1)
	if u <= 0 || u > 1 {
		return 0, false
	}
	return u, true
}

// Explain says in one sentence which mode is cheaper and where they cross,
// for the console's teaching note.
func (c CostEstimate) Explain() string {
	s := fmt.Sprintf("provisioned $%.2f/month, on-demand $%.2f/month: %s is cheaper for this load",
		c.ProvisionedMonthly, c.OnDemandMonthly, strings.ToLower(strings.ReplaceAll(string(c.Cheaper), "_", "-")))
	if c.BreakEven > 0 {
		s += fmt.Sprintf("; provisioned wins above %.1f %% of %s write capacity", c.BreakEven*100, shardsOf(c.ProvisionedShards))
	}
	return s
}

// ceilish is math.Ceil that ignores floating-point dust just above an integer.
func ceilish(x float64) float64 { return math.Ceil(x - 1e-9) }

func humanBytes(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.2f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

// CostWindow is how many recent seconds of metrics the snapshot's cost
// estimate averages.
const CostWindow = 60

// snapshotExtras adds utilisation, cost, consumers and scaler state to a
// stream's snapshot. e.mu is held (shared).
func (e *Engine) snapshotExtras(s *stream, ss *StreamSnapshot, now time.Time) {
	var in Rate
	for i := range ss.Shards {
		shs := &ss.Shards[i]
		shs.WriteUtilisation = max(float64(shs.Rate.RecordsIn)/ShardWriteRecordsPerSec, float64(shs.Rate.BytesIn)/ShardWriteBytesPerSec)
		h := shs.History
		for _, r := range h[max(len(h)-CostWindow, 0):] {
			in.add(r)
		}
	}
	if ss.OpenShards > 0 {
		u := Utilisation{
			Records: float64(ss.Rate.RecordsIn) / (float64(ss.OpenShards) * ShardWriteRecordsPerSec),
			Bytes:   float64(ss.Rate.BytesIn) / (float64(ss.OpenShards) * ShardWriteBytesPerSec),
			By:      "records",
		}
		u.Max = u.Records
		if u.Bytes > u.Records {
			u.Max, u.By = u.Bytes, "bytes"
		}
		ss.Utilisation = u
	}
	ss.Consumers, ss.FanOut = e.consumerSnapshots(s, now)
	// Average over the seconds actually measured: just after a start the
	// window is mostly seconds nobody counted, not seconds without load.
	secs := min(float64(CostWindow), e.rateTime(now).Truncate(time.Second).Sub(e.started).Seconds())
	secs = max(secs, 1)
	c := EstimateCost(e.opts.Prices, ss.OpenShards, float64(in.RecordsIn)/secs, float64(in.BytesIn)/secs, float64(in.BytesOut)/secs, s.activeConsumers(now))
	c.Window = time.Duration(secs * float64(time.Second)).Round(time.Second)
	c.Basis = fmt.Sprintf("last %d s: %s", int(c.Window/time.Second), c.Basis)
	c.Current = s.mode
	c.CurrentHourly, c.CurrentMonthly = c.ProvisionedHourly, c.ProvisionedMonthly
	if s.mode == ModeOnDemand {
		c.CurrentHourly, c.CurrentMonthly = c.OnDemandHourly, c.OnDemandMonthly
	}
	ss.Cost = c
	e.scalingStatus(s, ss, now)
}

// shardsOf is the possessive of a shard count: "1 shard's", "4 shards'".
func shardsOf(n int) string {
	if n == 1 {
		return "1 shard's"
	}
	return strconv.Itoa(n) + " shards'"
}
