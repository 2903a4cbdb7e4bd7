package engine

import (
	"math"
	"math/big"
	"testing"
)

// TestFormatSeqMatchesBigArithmetic checks the fast formatter against
// math/big over edges where carries happen.
func TestFormatSeqMatchesBigArithmetic(t *testing.T) {
	for _, idx := range []uint32{0, 1, 7, 4095, math.MaxUint32} {
		for _, pos := range []uint64{0, 1, 999, 1 << 40, tenTo19 - 1, tenTo19, math.MaxUint64 - 1, math.MaxUint64, 8446744073709551615, 8446744073709551616} {
			n := new(big.Int).Lsh(new(big.Int).SetUint64(uint64(idx)), 64)
			n.Or(n, new(big.Int).SetUint64(pos))
			n.Or(n, seqMarker)
			if got, want := formatSeq(idx, pos), n.String(); got != want {
				t.Fatalf("formatSeq(%d, %d) = %s, want %s", idx, pos, got, want)
			}
			gi, gp, err := parseSeq(n.String())
			if err != nil || gi != idx || gp != pos {
				t.Fatalf("parseSeq(%s) = %d, %d, %v", n, gi, gp, err)
			}
		}
	}
}
