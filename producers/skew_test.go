package producers

import (
	"context"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/shardscope/shardscope/engine"
)

func TestSkewStringAndCycle(t *testing.T) {
	want := map[Skew]string{Uniform: "uniform", Zipf: "zipf", HotKey: "hotkey"}
	for s, name := range want {
		if s.String() != name {
			t.Errorf("%d.String() = %q", int(s), s.String())
		}
	}
	if Uniform.Next() != Zipf || Zipf.Next() != HotKey || HotKey.Next() != Uniform {
		t.Error("cycle is not Uniform → Zipf → HotKey → Uniform")
	}
}

func picks(s Skew, share float64, n, draws int) []int {
	r := rand.New(rand.NewPCG(9, 9))
	k := NewKeyPicker(s, share)
	counts := make([]int, n)
	for i := 0; i < draws; i++ {
		j := k.Pick(r, n)
		counts[j]++
	}
	return counts
}

func TestHotKeyShare(t *testing.T) {
	const draws = 200000
	for _, share := range []float64{0.1, 0.3, 0.8} {
		c := picks(HotKey, share, 1000, draws)
		if got := float64(c[0]) / draws; got < share-0.01 || got > share+0.01 {
			t.Errorf("hot share %.4f, want %.2f", got, share)
		}
	}
	// Through a generator: the hot key is its first entity.
	pks, _ := gen(NewIoT(IoTConfig{}), 1, 20000, NewKeyPicker(HotKey, 0.3))
	hot := 0
	for _, k := range pks {
		if k == "sensor-0001" {
			hot++
		}
	}
	if got := float64(hot) / 20000; got < 0.28 || got > 0.32 {
		t.Errorf("sensor-0001 share %.3f, want 0.30", got)
	}
}

// topShare is the share of draws taken by the most-picked tenth of keys.
func topShare(c []int, draws int) float64 {
	s := append([]int(nil), c...)
	sort.Sort(sort.Reverse(sort.IntSlice(s)))
	top := 0
	for _, v := range s[:len(s)/10] {
		top += v
	}
	return float64(top) / float64(draws)
}

func TestZipfConcentratesUniformSpreads(t *testing.T) {
	const n, draws = 1000, 200000
	z := picks(Zipf, 0, n, draws)
	u := picks(Uniform, 0, n, draws)
	if zs, us := topShare(z, draws), topShare(u, draws); zs < 0.6 || us > 0.12 {
		t.Errorf("top 10%% of keys: zipf %.3f, uniform %.3f", zs, us)
	}
	if z[0] < z[1] || z[1] < z[9] || z[0] < 10*draws/n {
		t.Errorf("zipf not rank-ordered: %v", z[:10])
	}
	mean := draws / n
	for i, v := range u {
		if v < mean*7/10 || v > mean*13/10 {
			t.Fatalf("uniform key %d drawn %d times, mean %d", i, v, mean)
		}
	}
}

func TestOpenShards(t *testing.T) {
	f := newFakeSink(engine.SystemClock{}, 1)
	for i := 0; i < 5; i++ {
		s := engine.Shard{ShardID: "s"}
		if i == 1 {
			s.EndingSequenceNumber = "9"
		}
		f.shards = append(f.shards, s)
	}
	n, err := OpenShards(context.Background(), f, "stream")
	if err != nil || n != 4 {
		t.Fatalf("OpenShards = %d, %v; want 4", n, err)
	}
	if r := streamRef("arn:aws:kinesis:us-east-1:123456789012:stream/x"); r.StreamARN == "" || r.StreamName != "" {
		t.Errorf("ARN ref %+v", r)
	}
}
