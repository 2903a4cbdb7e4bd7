package engine

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"regexp"
)

// HashKey is a point of the 128-bit hash-key space, held as two words.
type HashKey struct{ Hi, Lo uint64 }

// MaxHashKey is 2^128 − 1, the end of the hash-key space.
var MaxHashKey = HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}

// HashPartitionKey returns MD5 of the key's UTF-8 bytes read as an unsigned
// big-endian 128-bit integer: the service's routing hash.
func HashPartitionKey(partitionKey string) HashKey {
	sum := md5.Sum([]byte(partitionKey))
	return HashKeyFromBytes(sum)
}

// HashKeyFromBytes reads 16 big-endian bytes.
func HashKeyFromBytes(b [16]byte) HashKey {
	return HashKey{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// Bytes returns the key as 16 big-endian bytes.
func (h HashKey) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.Hi)
	binary.BigEndian.PutUint64(b[8:], h.Lo)
	return b
}

// Cmp returns -1, 0 or +1 as h is less than, equal to or greater than o.
func (h HashKey) Cmp(o HashKey) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// Add returns h + n, wrapping at 2^128.
func (h HashKey) Add(n uint64) HashKey {
	lo, carry := bits.Add64(h.Lo, n, 0)
	return HashKey{Hi: h.Hi + carry, Lo: lo}
}

// Sub returns h − n, wrapping at 0.
func (h HashKey) Sub(n uint64) HashKey {
	lo, borrow := bits.Sub64(h.Lo, n, 0)
	return HashKey{Hi: h.Hi - borrow, Lo: lo}
}

// Big returns h as a big.Int.
func (h HashKey) Big() *big.Int {
	b := h.Bytes()
	return new(big.Int).SetBytes(b[:])
}

// Fraction returns h / 2^128 as a float in [0, 1): where h lies on the key space.
func (h HashKey) Fraction() float64 {
	return (float64(h.Hi) + float64(h.Lo)/18446744073709551616.0) / 18446744073709551616.0
}

// String returns h in decimal, as the service writes hash keys.
func (h HashKey) String() string { return h.Big().String() }

var hashKeyPattern = regexp.MustCompile(`^(0|[1-9]\d{0,38})$`)

// ParseHashKey reads a decimal hash key; ok is false when s does not match
// the service's pattern or exceeds 2^128 − 1.
func ParseHashKey(s string) (h HashKey, ok bool) {
	if !hashKeyPattern.MatchString(s) {
		return HashKey{}, false
	}
	n, good := new(big.Int).SetString(s, 10)
	if !good || n.BitLen() > 128 {
		return HashKey{}, false
	}
	var b [16]byte
	n.FillBytes(b[:])
	return HashKeyFromBytes(b), true
}

// HashKeyRange is an inclusive range of the hash-key space.
type HashKeyRange struct {
	Start HashKey
	End   HashKey
}

// Contains reports whether h lies in the range.
func (r HashKeyRange) Contains(h HashKey) bool { return r.Start.Cmp(h) <= 0 && h.Cmp(r.End) <= 0 }

// evenRanges splits the key space into n ranges as the service does:
// step = floor(2^128 / n), range i = [i·step, (i+1)·step − 1], the last
// range ending at 2^128 − 1.
func evenRanges(n int) []HashKeyRange {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]HashKeyRange, n)
	for i := 0; i < n; i++ {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == n-1 {
			end = new(big.Int).Sub(space, big.NewInt(1))
		}
		out[i] = HashKeyRange{Start: bigToHashKey(start), End: bigToHashKey(end)}
	}
	return out
}

func bigToHashKey(n *big.Int) HashKey {
	var b [16]byte
	n.FillBytes(b[:])
	return HashKeyFromBytes(b)
}

// midpoint returns the first key of the upper half of r.
func (r HashKeyRange) midpoint() HashKey {
	sum := new(big.Int).Add(r.Start.Big(), r.End.Big())
	sum.Add(sum, big.NewInt(1))
	return bigToHashKey(sum.Rsh(sum, 1))
}
