package engine

import (
	"math"
	"testing"
	"time"
)

// BenchmarkOnDemandAbsorbDoubling measures, in simulated seconds, how long
// the on-demand scaler with its default settings takes to absorb a sudden
// doubling of write load: from 70 % of four shards' capacity (2,800
// records/s spread over the key space) to 140 % (5,600 records/s), until a
// whole minute passes without a throttled write. The writes go through the
// shards' real token buckets and metrics, without storage; the scaler runs
// every DefaultScaleInterval of simulated time.
//
//	go test -run '^$' -bench OnDemandAbsorb ./engine/
func BenchmarkOnDemandAbsorbDoubling(b *testing.B) {
	var absorbed, shards float64
	for i := 0; i < b.N; i++ {
		absorbed, shards = simulateDoubling(b, 2800, 5600)
	}
	b.ReportMetric(absorbed, "sim-seconds-to-absorb")
	b.ReportMetric(shards, "shards-after")
}

func simulateDoubling(b *testing.B, before, after float64) (absorbed, shards float64) {
	env := newEnv(b, Options{})
	env.createOnDemand("od")
	env.e.mu.RLock()
	s := env.e.streams["od"]
	env.e.mu.RUnlock()
	// second writes rps records of 100 bytes this second, each shard taking
	// its share of the key space, and returns how many were throttled.
	second := func(rps float64) (throttled int64) {
		now := env.clock.Now()
		env.e.mu.RLock()
		open := s.openShards()
		env.e.mu.RUnlock()
		for _, sh := range open {
			share := sh.rng.End.Fraction() - sh.rng.Start.Fraction()
			if sh.rng.End == MaxHashKey {
				share = 1 - sh.rng.Start.Fraction()
			}
			var ok, no int64
			for n := int(math.Round(rps * share)); n > 0; n-- {
				if sh.allowWrite(now, 100) {
					ok++
				} else {
					no++
				}
			}
			sh.metrics.add(now, Rate{RecordsIn: ok, BytesIn: 100 * ok, WriteThrottled: no})
			throttled += no
		}
		return throttled
	}
	tick := func(sec int) {
		env.clock.Advance(time.Second)
		if sec%int(DefaultScaleInterval/time.Second) == 0 {
			if _, err := env.e.EvaluateScaling(env.clock.Now()); err != nil {
				b.Fatal(err)
			}
		}
	}
	sec := 0
	for ; sec < 600; sec++ { // ten quiet-ish minutes at 70 %
		if n := second(before); n != 0 {
			b.Fatalf("throttled at the starting load")
		}
		tick(sec + 1)
	}
	doubled, lastThrottled := sec, -1
	for ; sec < doubled+3600; sec++ {
		if second(after) > 0 {
			lastThrottled = sec
		}
		tick(sec + 1)
		if lastThrottled >= 0 && sec-lastThrottled >= 60 {
			break
		}
	}
	if lastThrottled < 0 || sec-lastThrottled < 60 {
		b.Fatalf("the doubled load was never absorbed (last throttled at %d s)", lastThrottled-doubled)
	}
	env.e.mu.RLock()
	defer env.e.mu.RUnlock()
	return float64(lastThrottled + 1 - doubled), float64(len(s.openShards()))
}
