package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/shardscope/shardscope/engine"
)

// Text width. Every pane line is cut or padded to exactly its width, so
// nothing wraps and frames differ only in the numbers.

// plainASCII reports whether s is printable ASCII without escapes, whose
// width is its length.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// width returns the number of terminal cells s takes, escapes excluded.
func width(s string) int {
	if plainASCII(s) {
		return len(s)
	}
	return ansi.StringWidth(s)
}

// fit cuts s to w cells (ending in "…" when cut) and pads it with spaces
// to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := width(s)
	if n > w {
		s = ansi.Truncate(s, w, "…")
		n = width(s)
	}
	if n < w {
		s += spaces(w - n)
	}
	return s
}

// cut shortens s to at most w cells, ending in "…" when cut.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if width(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// fitRight is fit aligned right.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := width(s)
	if n > w {
		s = ansi.Truncate(s, w, "…")
		n = width(s)
	}
	if n < w {
		s = spaces(w-n) + s
	}
	return s
}

const blanks = "                                                                                                                                "

// spaces returns n spaces without allocating for common widths.
func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= len(blanks) {
		return blanks[:n]
	}
	return strings.Repeat(" ", n)
}

// repeat returns s n times (n < 0 counts as 0).
func repeat(s string, n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(s, n)
}

// center pads s on both sides to w cells.
func center(s string, w int) string {
	n := width(s)
	if n >= w {
		return fit(s, w)
	}
	left := (w - n) / 2
	return spaces(left) + s + spaces(w-n-left)
}

// Identifiers.

// shortShard drops the "shardId-" prefix: "000000000004".
func shortShard(id string) string {
	return strings.TrimPrefix(id, "shardId-")
}

// tinyShard keeps the last n characters of a shard ID: "…004".
func tinyShard(id string, n int) string {
	s := shortShard(id)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// shortSeq keeps the last six digits of a sequence number: "…045382".
func shortSeq(seq string) string {
	if len(seq) <= 7 {
		return seq
	}
	return "…" + seq[len(seq)-6:]
}

// Numbers.

// commas writes n with thousands separators: 96,112.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	if len(s) > 3 {
		var b strings.Builder
		head := len(s) % 3
		if head > 0 {
			b.WriteString(s[:head])
		}
		for i := head; i < len(s); i += 3 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s[i : i+3])
		}
		s = b.String()
	}
	if neg {
		return "-" + s
	}
	return s
}

// count writes n in at most five cells: 812, 41.2k, 1.21M, 3.40G.
func count(n int64) string {
	f := float64(n)
	switch {
	case n < 0:
		return "-" + count(-n)
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 100_000:
		return strconv.FormatFloat(f/1e3, 'f', 1, 64) + "k"
	case n < 1_000_000:
		return strconv.FormatFloat(f/1e3, 'f', 0, 64) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(f/1e6, 'f', 2, 64) + "M"
	}
	return strconv.FormatFloat(f/1e9, 'f', 2, 64) + "G"
}

// rate writes a records-per-second figure in at most five cells.
func rate(r float64) string {
	if r < 0 {
		r = 0
	}
	return count(int64(math.Round(r)))
}

// mbps writes bytes per second as megabytes per second with prec decimals.
func mbps(bytes int64, prec int) string {
	return strconv.FormatFloat(float64(bytes)/1e6, 'f', prec, 64) + " MB/s"
}

// size writes a byte count: 312 B, 4.1 KB, 1.0 MB.
func size(n int) string {
	switch {
	case n < 1000:
		return strconv.Itoa(n) + " B"
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + " KB"
	}
	return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
}

// money writes a dollar amount with the precision its size needs:
// $0.015, $0.21, $45.26, $1,204.
func money(v float64) string {
	switch {
	case v < 0:
		return "-" + money(-v)
	case v < 0.1:
		return "$" + strconv.FormatFloat(v, 'f', 3, 64)
	case v < 100:
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
	return "$" + commas(int64(math.Round(v)))
}

// Durations.

// age writes a duration in at most four cells: 45s, 23m, 5h, 12d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// lapse writes how far the engine's clock runs ahead, exactly: "+1h",
// "+6h", "+1h30m", "+2d 3h".
func lapse(d time.Duration) string {
	d = d.Round(time.Minute)
	days, h, m := d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute
	var b strings.Builder
	b.WriteByte('+')
	if days > 0 {
		b.WriteString(strconv.Itoa(int(days)) + "d")
		if h > 0 || m > 0 {
			b.WriteByte(' ')
		}
	}
	if h > 0 {
		b.WriteString(strconv.Itoa(int(h)) + "h")
	}
	if m > 0 || d == 0 {
		b.WriteString(strconv.Itoa(int(m)) + "m")
	}
	return b.String()
}

// retention writes a retention period the way people say it: 24h, 48h, 7d.
func retention(hours int) string {
	if hours <= 48 || hours%24 != 0 {
		return strconv.Itoa(hours) + "h"
	}
	return strconv.Itoa(hours/24) + "d"
}

// lag writes a consumer lag: 120 ms, 2.1 s, 3m05s.
func lag(d time.Duration) string {
	switch {
	case d < 0:
		return "0 ms"
	case d < time.Second:
		return strconv.Itoa(int(d/time.Millisecond)) + " ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d/time.Second)%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d/time.Minute)%60)
}

// clockTime writes an uptime as 00:12:31 (and days when there are any).
func clockTime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	h, m, sec := s/3600, s/60%60, s%60
	if h >= 100 {
		return fmt.Sprintf("%dd%02d:%02d", h/24, h%24, m)
	}
	return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
}

// Bars.

var eighths = [...]string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// gauge draws pct (0–100, clipped) as cells of eighth blocks, padded with
// spaces to exactly cells.
func gauge(pct float64, cells int) string {
	if cells <= 0 {
		return ""
	}
	if pct < 0 || math.IsNaN(pct) {
		pct = 0
	}
	if pct > 100 {
		pct = 100
	}
	steps := int(math.Round(pct / 100 * float64(cells*8)))
	if pct > 0 && steps == 0 {
		steps = 1 // something moved: show it
	}
	full, part := steps/8, steps%8
	var b strings.Builder
	b.Grow(cells * 3)
	b.WriteString(repeat("█", full))
	used := full
	if part > 0 {
		b.WriteString(eighths[part])
		used++
	}
	b.WriteString(spaces(cells - used))
	return b.String()
}

// keyCells returns the cells [from, to) that a hash-key range covers on an
// axis of n cells. Ends are rounded to the nearest cell border, so
// neighbouring ranges tile the axis without gaps or overlaps and a split
// halves its parent's bar; every range gets at least one cell.
func keyCells(r engine.HashKeyRange, n int) (from, to int) {
	start := r.Start.Fraction()
	end := 1.0
	if r.End.Cmp(engine.MaxHashKey) != 0 {
		end = r.End.Add(1).Fraction()
	}
	from = int(math.Floor(start*float64(n) + 0.5))
	to = int(math.Floor(end*float64(n) + 0.5))
	if from >= n {
		from = n - 1
	}
	if to <= from {
		to = from + 1
	}
	return from, to
}

// keyBar draws a hash-key range on the shared key-space axis of n cells:
// █ inside the range, ░ outside.
func keyBar(r engine.HashKeyRange, n int) string {
	if n <= 0 {
		return ""
	}
	from, to := keyCells(r, n)
	var b strings.Builder
	b.Grow(n * 3)
	b.WriteString(repeat("░", from))
	b.WriteString(repeat("█", to-from))
	b.WriteString(repeat("░", n-to))
	return b.String()
}

var sparks = [...]string{"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"}

// spark draws values on a scale of 0..top as one cell each: a space for
// zero, ▁ for anything above zero, █ at the top.
func spark(b *strings.Builder, values []float64, top float64) {
	for _, v := range values {
		if v <= 0 || top <= 0 {
			b.WriteByte(' ')
			continue
		}
		i := int(math.Ceil(v/top*8)) - 1
		i = max(0, min(i, 7))
		b.WriteString(sparks[i])
	}
}

// Text from records.

// clean makes one line of display text from s: tabs and newlines become
// spaces, other control characters go, and it stops after about max cells.
func clean(s string, max int) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.Strip(s) // escape sequences would restyle the screen
	}
	if plainASCII(s) {
		if len(s) > max+1 {
			return s[:max+1]
		}
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n > max {
			break
		}
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteByte(' ')
			n++
		case r == utf8.RuneError || unicode.IsControl(r) || r == '\u200b':
			continue
		default:
			b.WriteRune(r)
			n++
		}
	}
	return b.String()
}

// preview makes a one-line preview of record data: the text when it is
// UTF-8, otherwise a hex dump of the first bytes.
func preview(data []byte, max int) string {
	head := data
	if len(head) > 4*max+4 {
		head = head[:4*max+4]
		// do not cut a rune in half: back up to a rune start
		for len(head) > 0 && !utf8.RuneStart(data[len(head)]) {
			head = head[:len(head)-1]
		}
	}
	if utf8.Valid(head) {
		return clean(string(head), max)
	}
	const hexdigits = "0123456789abcdef"
	var b strings.Builder
	b.WriteString("‹bin› ")
	for i, c := range data {
		if i*3 > max {
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}
