package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0"}, {812, "812"}, {1000, "1.0k"}, {41_234, "41.2k"}, {410_000, "410k"}, {1_210_000, "1.21M"}, {3_400_000_000, "3.40G"}, {-5, "-5"}} {
		if got := count(tc.n); got != tc.want {
			t.Errorf("count(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestCommas(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {96112, "96,112"}, {1234567, "1,234,567"}, {-1234, "-1,234"}} {
		if got := commas(tc.n); got != tc.want {
			t.Errorf("commas(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{age(45 * time.Second), "45s"}, {age(23 * time.Minute), "23m"}, {age(5 * time.Hour), "5h"}, {age(72 * time.Hour), "3d"},
		{retention(24), "24h"}, {retention(48), "48h"}, {retention(168), "7d"}, {retention(8760), "365d"}, {retention(36), "36h"},
		{lag(120 * time.Millisecond), "120 ms"}, {lag(2100 * time.Millisecond), "2.1 s"}, {lag(185 * time.Second), "3m05s"},
		{clockTime(12*time.Minute + 31*time.Second), "00:12:31"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestGauge(t *testing.T) {
	for _, tc := range []struct {
		pct  float64
		want string
	}{
		{0, "          "}, {100, "██████████"}, {250, "██████████"}, {50, "█████     "},
		{98, "█████████▊"}, {0.1, "▏         "}, {31, "███▏      "},
	} {
		if got := gauge(tc.pct, 10); got != tc.want {
			t.Errorf("gauge(%v) = %q, want %q", tc.pct, got, tc.want)
		}
	}
}

func TestKeyBarSplitHalvesParent(t *testing.T) {
	parent := rng(2, 4, 4)
	left, right := rng(4, 6, 8), rng(6, 8, 8)
	for _, n := range []int{8, 16, 20, 31} {
		pf, pt := keyCells(parent, n)
		lf, lt := keyCells(left, n)
		rf, rt := keyCells(right, n)
		if lf != pf || rt != pt || lt != rf {
			t.Errorf("n=%d: parent [%d,%d) children [%d,%d) [%d,%d) do not tile it", n, pf, pt, lf, lt, rf, rt)
		}
		if bar := keyBar(parent, n); width(bar) != n {
			t.Errorf("bar width %d, want %d", width(bar), n)
		}
	}
	if got := keyBar(engine.HashKeyRange{Start: engine.HashKey{}, End: engine.MaxHashKey}, 8); got != "████████" {
		t.Errorf("whole key space = %q", got)
	}
	// a sliver still shows
	if got := keyBar(engine.HashKeyRange{Start: hk(1, 2), End: hk(1, 2).Add(5)}, 8); strings.Count(got, "█") != 1 {
		t.Errorf("tiny range = %q, want one cell", got)
	}
}

func TestPreviewAndClean(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte("a\tb\nc\rd"), "a b c d"},
		{[]byte("red \x1b[31mtext\x1b[0m\x07"), "red text"},
		{[]byte{0xff, 0x00, 0x41}, "‹bin› ff 00 41"},
		{[]byte("héllo"), "héllo"},
	} {
		if got := preview(tc.in, 40); got != tc.want {
			t.Errorf("preview(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("x", 10_000)
	if got := preview([]byte(long), 40); len(got) > 41 {
		t.Errorf("preview of 10,000 bytes kept %d", len(got))
	}
}

func TestFitAndWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		w    int
		want string
	}{
		{"abc", 5, "abc  "}, {"abcdef", 4, "abc…"}, {"日本語", 4, "日… "}, {"日本語", 6, "日本語"},
	} {
		if got := fit(tc.s, tc.w); got != tc.want || width(got) != tc.w {
			t.Errorf("fit(%q, %d) = %q (width %d), want %q", tc.s, tc.w, got, width(got), tc.want)
		}
	}
	if got := fitRight("37", 5); got != "   37" {
		t.Errorf("fitRight = %q", got)
	}
}

func TestParseFilter(t *testing.T) {
	rec := engine.TapRecord{ShardID: "shardId-000000000004", Record: engine.Record{PartitionKey: "User-42", Data: []byte(`{"page":"/Cart"}`)}}
	for _, tc := range []struct {
		f    string
		want bool
		err  bool
	}{
		{"user-42", true, false}, {"/cart", true, false}, {"000004", true, false}, {"nope", false, false},
		{"!nope", true, false}, {"!cart", false, false}, {`re:^User-\d+$`, true, false}, {`/^user/`, false, false},
		{`/(?i)^user/`, true, false}, {`!re:Cart`, false, false}, {"re:(", false, true}, {"!", false, true}, {"re:", false, true},
	} {
		f, err := parseFilter(tc.f)
		if (err != nil) != tc.err {
			t.Errorf("parseFilter(%q) error %v, want error %v", tc.f, err, tc.err)
			continue
		}
		if err == nil && f.match(&rec) != tc.want {
			t.Errorf("filter %q matched %v, want %v", tc.f, !tc.want, tc.want)
		}
	}
}

func TestRing(t *testing.T) {
	r := newRing[int](3)
	for i := 1; i <= 5; i++ {
		r.Push(i)
	}
	if got := r.Slice(); len(got) != 3 || got[0] != 3 || got[2] != 5 {
		t.Errorf("ring holds %v, want [3 4 5]", got)
	}
}
