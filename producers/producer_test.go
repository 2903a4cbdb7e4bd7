package producers

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

func newTestProducer(sink Sink, clk engine.Clock, cfg Config) *Producer {
	cfg.Clock = clk
	return New("test", &seqGen{keys: 10}, sink, "stream", cfg)
}

// settle switches p off and drives it until nothing is pending.
func settle(t *testing.T, p *Producer, clk *engine.ManualClock) {
	t.Helper()
	p.SetOn(false)
	driveUntil(t, p, clk, 10*time.Millisecond, 5*time.Minute, func() bool { return p.Stats().Pending == 0 })
}

func TestRetriesAccountFor(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 1)
	f.throttle, f.internal = 0.3, 0.05
	p := newTestProducer(f, clk, Config{Rate: 2000, MaxAttempts: 4, BackoffBase: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	drive(p, clk, 5*time.Second, 10*time.Millisecond)
	settle(t, p, clk)
	s := p.Stats()
	t.Logf("%+v", s)

	if s.Generated < 9000 || s.Generated > 11000 {
		t.Errorf("generated %d in 5 s at 2000/s", s.Generated)
	}
	if s.Sent+s.GivenUp != s.Generated {
		t.Errorf("sent %d + given up %d != generated %d", s.Sent, s.GivenUp, s.Generated)
	}
	if s.Throttled+s.Failed < s.Retried || s.Throttled == 0 || s.Retried == 0 || s.GivenUp == 0 {
		t.Errorf("throttled %d, failed %d, retried %d, given up %d", s.Throttled, s.Failed, s.Retried, s.GivenUp)
	}
	// A record is given up after 4 rejections: p = 0.35^4 ≈ 1.5%.
	if want := float64(s.Generated) * math.Pow(0.35, 4); math.Abs(float64(s.GivenUp)-want) > want/2 {
		t.Errorf("given up %d, expected about %.0f", s.GivenUp, want)
	}
	if s.Errors != 0 || !strings.Contains(s.LastError, "InternalFailure") {
		t.Errorf("errors %d, last error %q", s.Errors, s.LastError)
	}

	calls, attempts, accepted, bad := f.snapshot()
	if len(bad) > 0 {
		t.Fatalf("bad input: %v", bad[:min(5, len(bad))])
	}
	if uint64(len(calls)) != s.Calls {
		t.Errorf("sink saw %d calls, stats %d", len(calls), s.Calls)
	}
	if uint64(len(accepted)) != s.Sent || uint64(len(attempts)) != s.Generated {
		t.Errorf("sink accepted %d distinct of %d seen; stats sent %d of %d", len(accepted), len(attempts), s.Sent, s.Generated)
	}
	for d, n := range accepted {
		if n != 1 {
			t.Fatalf("record accepted %d times: %s", n, d)
		}
	}
	for d, at := range attempts {
		if len(at) > 4 {
			t.Fatalf("record sent %d times, max attempts 4: %s", len(at), d)
		}
	}
	var retries uint64
	for _, at := range attempts {
		retries += uint64(len(at) - 1)
	}
	if retries != s.Retried {
		t.Errorf("sink saw %d resends, stats retried %d", retries, s.Retried)
	}
}

func TestBackoff(t *testing.T) {
	const base, maxB = 40 * time.Millisecond, 300 * time.Millisecond
	const step = 5 * time.Millisecond
	limit := func(n int) time.Duration { // after n failed attempts
		return min(maxB, base<<(n-1))
	}
	run := func(t *testing.T, maxJitter bool) (gaps [][]time.Duration) {
		clk := engine.NewManualClock(t0)
		f := newFakeSink(clk, 2)
		f.throttle = 0.6
		p := newTestProducer(f, clk, Config{Rate: 500, MaxAttempts: 6, BackoffBase: base, BackoffMax: maxB})
		if maxJitter {
			p.jitter = func(l time.Duration) time.Duration { return l }
		}
		drive(p, clk, 4*time.Second, step)
		settle(t, p, clk)
		if s := p.Stats(); s.Throttled < s.Retried || s.Sent+s.GivenUp != s.Generated {
			t.Errorf("throttled %d, retried %d, sent %d, given up %d, generated %d", s.Throttled, s.Retried, s.Sent, s.GivenUp, s.Generated)
		}
		_, attempts, _, _ := f.snapshot()
		gaps = make([][]time.Duration, 6)
		for _, at := range attempts {
			for i := 1; i < len(at); i++ {
				gap := at[i].Sub(at[i-1])
				gaps[i] = append(gaps[i], gap)
				// Never later than the backoff limit plus a flush interval
				// and a step; with full jitter never earlier than 0, with
				// maximal jitter never earlier than the limit.
				if gap > limit(i)+DefaultFlushInterval+step {
					t.Fatalf("retry %d after %v, limit %v", i, gap, limit(i))
				}
				if maxJitter && gap < limit(i) {
					t.Fatalf("retry %d after %v, before its backoff %v", i, gap, limit(i))
				}
			}
		}
		return gaps
	}
	t.Run("max", func(t *testing.T) { run(t, true) })
	t.Run("full", func(t *testing.T) {
		gaps := run(t, false)
		mean := func(ds []time.Duration) time.Duration {
			var s time.Duration
			for _, d := range ds {
				s += d
			}
			return s / time.Duration(max(1, len(ds)))
		}
		// The waits grow with the attempt number.
		m1, m3 := mean(gaps[1]), mean(gaps[3])
		t.Logf("mean gaps: %v %v %v %v (n=%d %d %d %d)", m1, mean(gaps[2]), m3, mean(gaps[4]), len(gaps[1]), len(gaps[2]), len(gaps[3]), len(gaps[4]))
		if len(gaps[3]) < 50 || m3 <= m1 {
			t.Errorf("mean gap after attempt 1: %v, after attempt 3: %v", m1, m3)
		}
	})
}

func TestFullJitterRange(t *testing.T) {
	p := newTestProducer(newFakeSink(engine.SystemClock{}, 1), engine.SystemClock{}, Config{Seed: 3})
	const l = 100 * time.Millisecond
	var sum time.Duration
	for i := 0; i < 10000; i++ {
		d := p.fullJitter(l)
		if d < 0 || d > l {
			t.Fatalf("jitter %v outside [0, %v]", d, l)
		}
		sum += d
	}
	if m := sum / 10000; m < 45*time.Millisecond || m > 55*time.Millisecond {
		t.Errorf("mean jitter %v, want ≈50ms", m)
	}
	if p.backoffLimit(1) != DefaultBackoffBase || p.backoffLimit(3) != 4*DefaultBackoffBase || p.backoffLimit(60) != DefaultBackoffMax {
		t.Errorf("backoff limits %v %v %v", p.backoffLimit(1), p.backoffLimit(3), p.backoffLimit(60))
	}
}

func TestBatchLimits(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 3)
	p := newTestProducer(f, clk, Config{Rate: 40000})
	drive(p, clk, time.Second, 50*time.Millisecond)
	calls, _, _, bad := f.snapshot()
	full := 0
	for _, c := range calls {
		if c.records > MaxBatchRecords {
			t.Fatalf("batch of %d records", c.records)
		}
		if c.records == MaxBatchRecords {
			full++
		}
	}
	if full < 40 || len(bad) > 0 {
		t.Errorf("%d full batches of %d calls; bad input %v", full, len(calls), bad)
	}

	// Large records: batches are cut at 5 MiB.
	clk = engine.NewManualClock(t0)
	f = newFakeSink(clk, 3)
	p = newTestProducer(f, clk, Config{Rate: 2000, Size: SizeProfile{TargetBytes: 30000}, BatchMax: 400})
	drive(p, clk, time.Second, 20*time.Millisecond)
	calls, _, _, bad = f.snapshot()
	if len(bad) > 0 {
		t.Fatalf("bad input: %v", bad)
	}
	biggest := 0
	for _, c := range calls {
		if c.records > 400 {
			t.Fatalf("batch of %d records, BatchMax 400", c.records)
		}
		biggest = max(biggest, c.bytes)
	}
	if biggest < 4<<20 {
		t.Errorf("largest batch %d bytes: not filled towards 5 MiB", biggest)
	}

	// Low rates still flow: a partial batch waits at most FlushInterval.
	clk = engine.NewManualClock(t0)
	f = newFakeSink(clk, 3)
	p = newTestProducer(f, clk, Config{Rate: 5})
	drive(p, clk, 2*time.Second, 10*time.Millisecond)
	if s := p.Stats(); s.Sent < 8 || s.Pending > 1 {
		t.Errorf("at 5 records/s: sent %d, pending %d after 2 s", s.Sent, s.Pending)
	}
}

func TestWholeCallErrorsBackOff(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 4)
	f.callErr = &engine.Error{Code: engine.ResourceNotFoundException, Message: "Stream stream under account 000000000000 not found."}
	p := newTestProducer(f, clk, Config{Rate: 1000, MaxAttempts: 3, BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second})
	drive(p, clk, 30*time.Second, 10*time.Millisecond) // 3000 steps
	s := p.Stats()
	t.Logf("30 s of failures: %d calls, %d generated, %d given up, %d pending", s.Calls, s.Generated, s.GivenUp, s.Pending)
	// Pauses after failed calls are at least half the backoff limit:
	// 50, 100, 200, 400, then 500 ms: about 60 calls in 30 s at most.
	if s.Calls > 70 || s.Calls < 20 || s.Errors != s.Calls {
		t.Errorf("%d calls, %d errors in 30 s of failures", s.Calls, s.Errors)
	}
	if s.Sent != 0 || s.GivenUp == 0 || s.Pending > DefaultMaxPending || !strings.Contains(s.LastError, "ResourceNotFoundException") {
		t.Errorf("sent %d, given up %d, pending %d, last error %q", s.Sent, s.GivenUp, s.Pending, s.LastError)
	}
	if s.Sent+s.GivenUp+uint64(s.Pending) != s.Generated {
		t.Errorf("sent %d + given up %d + pending %d != generated %d", s.Sent, s.GivenUp, s.Pending, s.Generated)
	}

	// The stream appears: the producer recovers.
	f.set(func(f *fakeSink) { f.callErr = nil })
	driveUntil(t, p, clk, 10*time.Millisecond, 5*time.Second, func() bool { return p.Stats().Sent > 1000 })
}

func TestWholeCallErrorsDoNotSpinRealTime(t *testing.T) {
	f := newFakeSink(engine.SystemClock{}, 5)
	f.callErr = errors.New("connection refused")
	p := newTestProducer(f, engine.SystemClock{}, Config{Rate: 1000})
	stop := runAsync(t, p)
	waitFor(t, "first call", func() bool { return f.callCount() > 0 })
	start := time.Now()
	n0, s0 := f.callCount(), p.steps.Load()
	waitFor(t, "steps", func() bool { return p.steps.Load() >= s0+30 && time.Since(start) >= 300*time.Millisecond })
	calls, elapsed := f.callCount()-n0, time.Since(start)
	stop()
	// At most one call per 50 ms (the smallest pause) plus one.
	if limit := int(elapsed/(50*time.Millisecond)) + 1; calls > limit {
		t.Errorf("%d calls in %v of failures", calls, elapsed)
	}
	if s := p.Stats(); s.Errors == 0 || s.Sent+s.GivenUp != s.Generated {
		t.Errorf("after stop: %+v", s)
	}
}

func TestDeterministicProducer(t *testing.T) {
	out := func() [][]string {
		clk := engine.NewManualClock(t0)
		f := newFakeSink(clk, 1)
		p := New("c", NewClickstream(ClickstreamConfig{}), f, "s", Config{Rate: 800, Seed: 11, Skew: Zipf, Clock: clk, Size: SizeProfile{TargetBytes: 400, Spread: 0.2}})
		drive(p, clk, 2*time.Second, 10*time.Millisecond)
		calls, _, _, _ := f.snapshot()
		var keys [][]string
		for _, c := range calls {
			keys = append(keys, c.keys)
		}
		return keys
	}
	a, b := out(), out()
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d vs %d calls", len(a), len(b))
	}
	for i := range a {
		if strings.Join(a[i], ",") != strings.Join(b[i], ",") {
			t.Fatalf("call %d differs", i)
		}
	}
}

func TestActualRate(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 6)
	p := newTestProducer(f, clk, Config{Rate: 1000})
	drive(p, clk, 7*time.Second, 10*time.Millisecond)
	s := p.Stats()
	if s.ActualRate < 900 || s.ActualRate > 1100 || s.ActualBytes < 20*s.ActualRate {
		t.Errorf("actual rate %.1f records/s, %.0f B/s at target 1000", s.ActualRate, s.ActualBytes)
	}
	p.SetRate(200)
	drive(p, clk, 6*time.Second, 10*time.Millisecond)
	if s := p.Stats(); s.ActualRate < 180 || s.ActualRate > 220 || s.Rate != 200 {
		t.Errorf("actual rate %.1f at target %v", s.ActualRate, s.Rate)
	}
}

func TestBurstReverts(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 7)
	p := newTestProducer(f, clk, Config{Rate: 100})
	drive(p, clk, time.Second, 10*time.Millisecond)
	g0 := p.Stats().Generated
	p.Burst(10, 5*time.Second)
	if s := p.Stats(); !s.Bursting || s.Rate != 1000 || s.BaseRate != 100 || s.BurstLeft != 5*time.Second {
		t.Fatalf("after Burst: %+v", s)
	}
	drive(p, clk, 5*time.Second, 10*time.Millisecond)
	s := p.Stats()
	if s.Bursting || s.Rate != 100 {
		t.Fatalf("burst did not revert: %+v", s)
	}
	if n := s.Generated - g0; n < 4500 || n > 5600 {
		t.Errorf("%d records during a 5 s ×10 burst of 100/s", n)
	}
	g1 := s.Generated
	drive(p, clk, 5*time.Second, 10*time.Millisecond)
	if n := p.Stats().Generated - g1; n < 450 || n > 560 {
		t.Errorf("%d records in 5 s after the burst", n)
	}
	p.Burst(10, time.Minute)
	p.Burst(0, 0)
	if p.Stats().Bursting {
		t.Error("Burst(0, 0) did not end the burst")
	}
}

func TestSetters(t *testing.T) {
	p := newTestProducer(newFakeSink(engine.SystemClock{}, 1), engine.SystemClock{}, Config{Rate: 100, Skew: Zipf})
	if p.Scale(2) != 200 || p.Scale(0.25) != 50 {
		t.Error("Scale")
	}
	p.SetRate(-5)
	if p.Stats().Rate != 0 {
		t.Error("negative rate")
	}
	p.SetRate(1e12)
	if p.Stats().Rate != MaxRate {
		t.Error("rate not capped")
	}
	if p.CycleSkew() != HotKey || p.CycleSkew() != Uniform || p.Stats().Skew != "uniform" {
		t.Error("CycleSkew")
	}
	p.SetSkew(HotKey)
	p.SetHotShare(0.5)
	if s := p.Stats(); s.Skew != "hotkey" || s.HotShare != 0.5 || !s.On {
		t.Errorf("%+v", s)
	}
	if p.Toggle() || p.Stats().On || !p.Toggle() {
		t.Error("Toggle")
	}
}

func TestSettersWhileRunning(t *testing.T) {
	f := newFakeSink(engine.SystemClock{}, 8)
	f.throttle = 0.1
	p := New("live", NewLogs(LogsConfig{}), f, "stream", Config{Rate: 2000, Seed: 1})
	p.tick = time.Millisecond
	stop := runAsync(t, p)
	waitFor(t, "Run to start", p.running.Load)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // should Run start after all, it returns at once
	if err := p.Run(ctx); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v", err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				switch (i + g) % 9 {
				case 0:
					p.SetRate(float64(500 + i))
				case 1:
					p.Scale(1.01)
				case 2:
					p.CycleSkew()
				case 3:
					p.SetSkew(Zipf)
				case 4:
					p.Burst(3, 20*time.Millisecond)
				case 5:
					p.Toggle()
				case 6:
					p.SetOn(true)
				case 7:
					p.SetSize(SizeProfile{TargetBytes: 300 + i, Spread: 0.1})
				case 8:
					p.SetHotShare(float64(i%10) / 10)
				}
				_ = p.Stats()
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	p.SetOn(true)
	p.SetRate(2000)
	waitFor(t, "records sent", func() bool { return p.Stats().Sent > 500 })
	stop()
	if s := p.Stats(); s.Sent+s.GivenUp != s.Generated || s.Pending != 0 {
		t.Errorf("after stop: %+v", s)
	}
}

func TestToggleOffStopsSending(t *testing.T) {
	clk := engine.NewManualClock(t0)
	f := newFakeSink(clk, 9)
	f.throttle = 0.2
	p := newTestProducer(f, clk, Config{Rate: 1000, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	p.tick = time.Millisecond
	runAsync(t, p)
	advanceUntil(t, p, clk, 10*time.Millisecond, 10*time.Second, func() bool { return p.Stats().Sent > 200 })
	if p.Toggle() {
		t.Fatal("Toggle did not switch off")
	}
	// Pending records drain, then nothing more is made or sent.
	advanceUntil(t, p, clk, 10*time.Millisecond, 10*time.Second, func() bool { return p.Stats().Pending == 0 })
	syncSteps(t, p)
	s0, c0 := p.Stats(), f.callCount()
	for i := 0; i < 100; i++ {
		clk.Advance(50 * time.Millisecond)
		syncSteps(t, p)
	}
	if s1, c1 := p.Stats(), f.callCount(); c1 != c0 || s1.Generated != s0.Generated || s1.On {
		t.Errorf("while off: calls %d → %d, generated %d → %d", c0, c1, s0.Generated, s1.Generated)
	}
	if s0.Sent+s0.GivenUp != s0.Generated {
		t.Errorf("drained: %+v", s0)
	}
	p.SetOn(true)
	advanceUntil(t, p, clk, 10*time.Millisecond, 10*time.Second, func() bool { return p.Stats().Sent > s0.Sent+100 })
}

func TestBurstRevertsWhileRunning(t *testing.T) {
	clk := engine.NewManualClock(t0)
	p := newTestProducer(newFakeSink(clk, 10), clk, Config{Rate: 50})
	p.tick = time.Millisecond
	runAsync(t, p)
	p.Burst(10, 5*time.Second)
	syncSteps(t, p)
	if s := p.Stats(); !s.Bursting || s.Rate != 500 {
		t.Fatalf("%+v", s)
	}
	advanceUntil(t, p, clk, 100*time.Millisecond, 6*time.Second, func() bool {
		s := p.Stats()
		return !s.Bursting && s.Rate == 50
	})
	if el := clk.Now().Sub(t0); el < 5*time.Second {
		t.Errorf("burst ended after %v", el)
	}
}
