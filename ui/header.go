package ui

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// headerPane is the one-line summary of the stream at the top. It takes
// no keys.
type headerPane struct {
	ctx   *Context
	width int
}

func newHeader(ctx *Context) *headerPane { return &headerPane{ctx: ctx} }

// Update does nothing: the header only reads the Context.
func (h *headerPane) Update(tea.Msg) tea.Cmd { return nil }

// SetSize sets the header's width; it is always one line high.
func (h *headerPane) SetSize(w, _ int) { h.width = w }

// HelpKeys returns nothing: the header takes no keys.
func (h *headerPane) HelpKeys() []key.Binding { return nil }

// View renders the header line.
func (h *headerPane) View() string { return h.render() }

// segment is one item of the header, with a full and a short form.
// Numbers inside are padded to fixed widths, so the line keeps its shape
// from frame to frame.
type segment struct {
	id          string
	full, short string
	paint       paint
	useShort    bool
	dropped     bool
}

func (s *segment) text() string {
	if s.useShort {
		return s.short
	}
	return s.full
}

const segGap = "  "

func segWidth(segs []segment) int {
	n := 0
	for i := range segs {
		if segs[i].dropped {
			continue
		}
		if n > 0 {
			n += len(segGap)
		}
		n += width(segs[i].text())
	}
	return n
}

// squeeze is the order in which the header gives up room when the line is
// too narrow: first shorter words, then whole items, least telling first.
var squeeze = []struct {
	id   string
	drop bool
}{
	{"where", true}, {"enc", false}, {"ro", false}, {"reads", false}, {"thr", false}, {"ret", false}, {"limits", true}, {"sync", true}, {"em", false}, {"rec", false}, {"warm", false},
	{"shards", false}, {"in", false}, {"rec", true}, {"out", true}, {"up", true}, {"ret", true}, {"cap", false}, {"alt", false}, {"cost", false},
	{"mode", false}, {"scale", false}, {"streams", false}, {"shards", true}, {"em", true}, {"warm", true}, {"lapse", false}, {"brand", false},
	{"lapse", true}, {"status", true}, {"in", true}, {"alt", true}, {"scale", true}, {"streams", true},
	{"cap", true}, {"cost", true}, {"mode", true}, {"enc", true}, {"reads", true},
}

func (h *headerPane) render() string {
	c, st := h.ctx, h.ctx.Styles
	s := c.Stream
	left := []segment{{id: "brand", full: " shardscope ▸ " + c.StreamName, short: " " + c.StreamName, paint: st.Brand}}
	a := c.Attach
	// Which engine the console drives: a remote one is part of the name;
	// "(embedded)" gives way first when the line is full.
	where := []segment{{id: "where", full: "(embedded)", short: "(embedded)"}}
	if a != nil {
		left[0].full += " @ " + a.Where
		where = nil
	}
	switch {
	case s == nil && c.Ticks > 0 && len(c.StreamNames) == 0 && a == nil:
		left[0].full, left[0].short = " shardscope", " shardscope"
		left = append(left, segment{id: "msg", full: "no streams yet: create one (see below)", short: "no streams yet", paint: st.Warn})
	case s == nil:
		msg := "waiting for stream " + strconv.Quote(c.StreamName) + "…"
		if c.Ticks > 0 {
			msg = "stream " + strconv.Quote(c.StreamName) + " does not exist (yet)"
		}
		left = append(left, segment{id: "msg", full: msg, short: msg, paint: st.Warn})
	default:
		left = append(left, where...)
		if n := len(c.StreamNames); n > 1 {
			i := strconv.Itoa(indexOf(c.StreamNames, c.StreamName)+1) + "/" + strconv.Itoa(n)
			left = append(left, segment{id: "streams", full: "stream " + i + " (w)", short: i})
		}
		left = append(left, modeSegments(st, s, c.Snap.At)...)
		left = append(left, settingSegments(s)...)
		if s.Status != engine.StatusActive && s.Status != "" {
			left = append(left, segment{id: "status", full: string(s.Status), short: string(s.Status), paint: st.Warn})
		}
		open := strconv.Itoa(s.OpenShards) + " open"
		left = append(left, segment{id: "shards", full: open + " · " + strconv.Itoa(s.ClosedShards) + " closed", short: open})
		ret := retention(s.RetentionHours)
		left = append(left, segment{id: "ret", full: "retention " + ret, short: "ret " + ret})
		switch {
		case a != nil:
			// Attached: how the console reads and whether it may write
			// take the place of the store's settings.
			left = append(left, segment{id: "reads", full: a.Reads, short: a.ReadsShort})
			if a.Encryption != "" {
				left = append(left, segment{id: "enc", full: "encrypted " + a.Encryption, short: a.Encryption})
			}
			// Never squeezed out: what a key press may do depends on it.
			if a.Writes {
				full := "WRITES ALLOWED"
				if a.WritesNote != "" {
					full += " · " + a.WritesNote
				}
				left = append(left, segment{id: "ro", full: full, short: "WRITES", paint: st.Warn})
			} else {
				left = append(left, segment{id: "ro", full: "read-only", short: "read-only", paint: st.OK})
			}
		default:
			sync := "sync:" + c.Snap.Sync
			if c.Snap.Sync == "" {
				sync = "sync:?"
			}
			left = append(left, segment{id: "sync", full: sync, short: sync})
			if c.Snap.LimitsEnabled {
				left = append(left, segment{id: "limits", full: "limits on", short: "limits on"})
			} else {
				left = append(left, segment{id: "limits", full: "limits OFF", short: "limits OFF", paint: st.Warn})
			}
		}
		r := s.Rate
		in := "in " + fitRight(strconv.FormatFloat(float64(r.BytesIn)/1e6, 'f', 2, 64), 5) + " MB/s " +
			fitRight(commas(r.RecordsIn), 6) + " rec/s"
		inShort := "in " + fitRight(strconv.FormatFloat(float64(r.BytesIn)/1e6, 'f', 1, 64), 4) + " MB/s"
		left = append(left, segment{id: "in", full: in, short: inShort})
		// Out is every read: shared (GetRecords) and enhanced fan-out.
		out := "out " + fitRight(strconv.FormatFloat(float64(r.BytesOut+s.FanOut.BytesOut)/1e6, 'f', 2, 64), 5) + " MB/s"
		left = append(left, segment{id: "out", full: out, short: out})
		tp := paint{}
		if r.WriteThrottled > 0 {
			tp = st.Warn
		}
		// Every refused attempt counts, a retried record each time it is
		// refused again: the producers pane splits them into retries and
		// records given up.
		thr := fitRight(count(r.WriteThrottled), 5) + "/s"
		left = append(left, segment{id: "thr", full: "rejected " + thr, short: "rej " + thr, paint: tp})
	}

	if why := c.Snap.WriteBlocked; why != "" {
		// Never squeezed out: every PutRecords fails while it lasts.
		msg := "store error — writes refused"
		if strings.Contains(why, "no space left") {
			msg = "disk full — writes refused"
		}
		left = append(left[:1], append([]segment{{id: "blocked", full: msg, short: msg, paint: st.Warn}}, left[1:]...)...)
	}

	if a != nil && (a.Lost != "" || a.Problem != "") {
		// Never squeezed out: nothing the screen shows is current while it lasts.
		msg := a.Lost
		if msg == "" {
			msg = a.Problem
		}
		left = append(left[:1], append([]segment{{id: "blocked", full: "✕ " + msg, short: "✕ " + msg, paint: st.Warn}}, left[1:]...)...)
	}

	live, lp := "● LIVE", st.OK
	switch {
	case a != nil && a.Lost != "":
		live, lp = "✕ LOST", st.Warn
	case c.Paused:
		live, lp = "⏸ PAUSED", st.Warn
	}
	var right []segment
	if s != nil && !c.Snap.At.IsZero() {
		// Time-lapse moves the engine clock ahead of ours: say by how much.
		if c.Ahead > 0 {
			l := lapse(c.Ahead)
			right = append(right, segment{id: "lapse", full: "engine " + l, short: l, paint: st.Accent})
		}
	}
	right = append(right, segment{id: "live", full: fit(live, 8), short: fit(live, 8), paint: lp})
	up := clockTime(c.At.Sub(c.Started))
	right = append(right, segment{id: "up", full: up, short: up})

	total := func() int { return segWidth(left) + len(segGap) + segWidth(right) + 1 }
	apply := func(id string, drop, on bool) {
		for _, segs := range [][]segment{left, right} {
			for i := range segs {
				if segs[i].id == id {
					if drop {
						segs[i].dropped = on
					} else {
						segs[i].useShort = on
					}
				}
			}
		}
	}
	applied := 0
	for applied < len(squeeze) && total() > h.width {
		apply(squeeze[applied].id, squeeze[applied].drop, true)
		applied++
	}
	// Give back what still fits, most telling first: squeezing in order
	// can overshoot (dropping sync before shortening "in" was enough).
	for i := applied - 1; i >= 0; i-- {
		apply(squeeze[i].id, squeeze[i].drop, false)
		if total() > h.width {
			apply(squeeze[i].id, squeeze[i].drop, true)
		}
	}

	var b strings.Builder
	b.Grow(h.width * 2)
	write := func(segs []segment) {
		first := true
		for i := range segs {
			if segs[i].dropped {
				continue
			}
			if !first {
				b.WriteString(segGap)
			}
			first = false
			b.WriteString(segs[i].paint.S(segs[i].text()))
		}
	}
	write(left)
	b.WriteString(spaces(h.width - segWidth(left) - segWidth(right) - 1))
	write(right)
	b.WriteString(" ")
	return fit(b.String(), h.width)
}

// modeSegments are the capacity mode, the cost meter (the current mode's
// price, green when it is the cheaper one, and the other mode's for
// contrast), and how full a PROVISIONED stream is or what an ON_DEMAND
// stream's scaler sees.
func modeSegments(st *Styles, s *engine.StreamSnapshot, at time.Time) []segment {
	short := "PROV"
	if s.Mode == engine.ModeOnDemand {
		short = "ON-DEM"
	}
	mode := string(s.Mode)
	if mode == "" {
		mode = string(engine.ModeProvisioned)
	}
	segs := []segment{{id: "mode", full: mode, short: short}}
	if c := s.Cost; c.Current != "" {
		p := st.Warn
		if c.Cheaper == c.Current {
			p = st.OK
		}
		segs = append(segs, segment{id: "cost", paint: p,
			full:  fitRight(money(c.CurrentHourly), 6) + "/h " + fitRight(money(c.CurrentMonthly), 6) + "/mo",
			short: money(c.CurrentHourly) + "/h"})
		other, abbr, oh := "on-demand", "OD", c.OnDemandHourly
		if c.Current == engine.ModeOnDemand {
			other, abbr, oh = "provisioned", "prov", c.ProvisionedHourly
		}
		segs = append(segs, segment{id: "alt",
			full:  "· " + other + " would be " + fitRight(money(oh), 6) + "/h",
			short: "(" + abbr + " " + money(oh) + ")"})
	}
	switch {
	case s.Mode != engine.ModeOnDemand && s.OpenShards > 0:
		pct := s.Utilisation.Max * 100
		u := fitRight(strconv.Itoa(int(math.Round(min(pct, 999))))+"%", 4) + " " + utilUnit(s.Utilisation.By)
		segs = append(segs, segment{id: "cap", full: "capacity " + u, short: "cap " + u, paint: st.level(pct)})
	case s.Mode == engine.ModeOnDemand && s.Scaling != nil:
		sc := s.Scaling
		var parts []string
		if sc.HotShards > 0 {
			parts = append(parts, strconv.Itoa(sc.HotShards)+" hot")
		}
		if sc.ColdShards > 0 {
			parts = append(parts, strconv.Itoa(sc.ColdShards)+" cold")
		}
		if sc.CooldownUntil.After(at) {
			parts = append(parts, "cooldown "+age(sc.CooldownUntil.Sub(at)))
		}
		if len(parts) == 0 {
			parts = append(parts, "steady")
		}
		p := paint{}
		if sc.HotShards > 0 {
			p = st.Warn
		}
		t := strings.Join(parts, " · ")
		segs = append(segs, segment{id: "scale", full: "scaler: " + t, short: "scaler " + strings.Join(parts, " "), paint: p})
	}
	return segs
}

// settingSegments mark what a stream has set apart from the defaults:
// enhanced monitoring, a larger record size, and an ON_DEMAND stream's
// warm throughput.
func settingSegments(s *engine.StreamSnapshot) []segment {
	var segs []segment
	if s.EncryptionType == engine.EncryptionKMS {
		segs = append(segs, segment{id: "enc", full: "encrypted (KMS " + s.KeyID + ")", short: "KMS"})
	}
	if n := len(s.EnhancedMetrics); n > 0 {
		full := "monitoring " + strconv.Itoa(n) + "/" + strconv.Itoa(len(engine.ShardLevelMetrics))
		if n == len(engine.ShardLevelMetrics) {
			full = "monitoring ALL"
		}
		segs = append(segs, segment{id: "em", full: full, short: "EM"})
	}
	if kib := s.MaxRecordSizeKiB; kib > engine.DefaultMaxRecordSizeKiB {
		size := strconv.FormatFloat(float64(kib)/1024, 'f', -1, 64) + " MiB"
		segs = append(segs, segment{id: "rec", full: "records ≤" + size, short: "≤" + size})
	}
	if w := s.WarmThroughput; w != nil && w.TargetMiBps > 0 {
		t := strconv.Itoa(w.TargetMiBps)
		segs = append(segs, segment{id: "warm", full: "warm " + t + " MiB/s", short: "warm " + t})
	}
	return segs
}

// utilUnit names the limit a utilisation is nearer, as the write gauges do.
func utilUnit(by string) string {
	if by == "bytes" {
		return "MB"
	}
	return "rec"
}

// indexOf returns the index of s in list, or -1.
func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}
