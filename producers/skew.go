package producers

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
)

// Skew is how a producer spreads records over its generator's entities
// (users, devices, instances) and so over partition keys and shards.
type Skew int

// The key distributions.
const (
	// Uniform picks every entity with the same probability.
	Uniform Skew = iota
	// Zipf picks the entity of rank k with probability proportional to 1/k:
	// a few keys are popular, a long tail is rare.
	Zipf
	// HotKey sends a fixed share of records with one key (the generator's
	// first entity, such as user-1) and spreads the rest uniformly.
	HotKey
)

// String returns "uniform", "zipf" or "hotkey".
func (s Skew) String() string {
	switch s {
	case Uniform:
		return "uniform"
	case Zipf:
		return "zipf"
	case HotKey:
		return "hotkey"
	}
	return "skew(?)"
}

// Next returns the skew after s in the cycle Uniform → Zipf → HotKey →
// Uniform.
func (s Skew) Next() Skew {
	switch s {
	case Uniform:
		return Zipf
	case Zipf:
		return HotKey
	}
	return Uniform
}

// DefaultHotShare is the share of records a HotKey skew sends with the hot
// key when none is configured.
const DefaultHotShare = 0.3

// keyZipfExponent is the exponent of the Zipf key skew (classic Zipf).
const keyZipfExponent = 1.0

// KeyPicker chooses which of a generator's n entities emits the next
// record, returning an index in [0, n). Index 0 is the hot key.
type KeyPicker interface {
	Pick(r *rand.Rand, n int) int
}

// NewKeyPicker returns the picker for a skew; hotShare (clamped to [0, 1])
// matters only for HotKey.
func NewKeyPicker(s Skew, hotShare float64) KeyPicker {
	switch s {
	case Zipf:
		return zipfPicker{}
	case HotKey:
		return hotPicker{share: math.Min(1, math.Max(0, hotShare))}
	}
	return uniformPicker{}
}

type uniformPicker struct{}

func (uniformPicker) Pick(r *rand.Rand, n int) int {
	if n <= 1 {
		return 0
	}
	return r.IntN(n)
}

type zipfPicker struct{}

func (zipfPicker) Pick(r *rand.Rand, n int) int {
	if n <= 1 {
		return 0
	}
	return zipfTableFor(n, keyZipfExponent).sample(r)
}

type hotPicker struct{ share float64 }

func (h hotPicker) Pick(r *rand.Rand, n int) int {
	if n <= 1 || r.Float64() < h.share {
		return 0
	}
	return 1 + r.IntN(n-1)
}

// zipfTable samples ranks 0..n-1 with probability ∝ 1/(rank+1)^s from a
// cumulative table, so any *rand.Rand can drive it.
type zipfTable struct{ cdf []float64 }

func newZipfTable(n int, s float64) *zipfTable {
	cdf := make([]float64, n)
	sum := 0.0
	for k := 0; k < n; k++ {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	cdf[n-1] = 1
	return &zipfTable{cdf: cdf}
}

func (z *zipfTable) sample(r *rand.Rand) int {
	u := r.Float64()
	return sort.SearchFloat64s(z.cdf, u)
}

type zipfKey struct {
	n int
	s float64
}

var (
	zipfMu     sync.Mutex
	zipfTables = map[zipfKey]*zipfTable{}
)

// zipfTableFor returns a shared, immutable table for (n, s).
func zipfTableFor(n int, s float64) *zipfTable {
	k := zipfKey{n, s}
	zipfMu.Lock()
	defer zipfMu.Unlock()
	t, ok := zipfTables[k]
	if !ok {
		t = newZipfTable(n, s)
		zipfTables[k] = t
	}
	return t
}
