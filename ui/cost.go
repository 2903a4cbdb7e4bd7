package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/shardscope/shardscope/engine"
)

// costPane is the cost meter under the consumers when the console is wide:
// what the last minute's workload costs an hour and a month in either
// capacity mode, which is cheaper, and at what load they cross. It takes
// no keys; the help view itemises the bill.
type costPane struct {
	ctx  *Context
	w, h int
}

func newCost(ctx *Context) *costPane { return &costPane{ctx: ctx} }

// Update does nothing: the cost box only reads the Context.
func (p *costPane) Update(tea.Msg) tea.Cmd { return nil }

// SetSize sets the box size; a height below 3 hides it.
func (p *costPane) SetSize(w, h int) { p.w, p.h = w, h }

// HelpKeys returns the capacity mode key, the experiment the box is for.
func (p *costPane) HelpKeys() []key.Binding { return []key.Binding{p.ctx.Keys.Mode} }

// View renders the cost box:
//
//	provisioned  $0.36/h    $263/mo  ✓ cheaper
//	on-demand    $2.01/h  $1,469/mo
//	on-demand is cheaper below 3.4% of 4 shards'
//	write capacity, provisioned above
//	load now 44% rec · ? itemises the bill
func (p *costPane) View() string {
	c, st := p.ctx, p.ctx.Styles
	if p.h < 3 {
		return ""
	}
	cw := p.w - 4
	s := c.Stream
	if s == nil || s.Cost.Current == "" {
		return box(st, "Cost", []string{st.Faint.S("no cost estimate yet")}, p.w, p.h, false)
	}
	e := &s.Cost
	lines := []string{
		p.row(e, engine.ModeProvisioned, e.ProvisionedHourly, e.ProvisionedMonthly),
		p.row(e, engine.ModeOnDemand, e.OnDemandHourly, e.OnDemandMonthly),
	}
	inner := p.h - 2
	teach := strings.Split(ansi.Wrap(costTeach(s), cw, ""), "\n")
	if len(lines)+len(teach)+1 > inner {
		// The whole sentence does not fit: the short one, never a cut one.
		teach = strings.Split(ansi.Wrap(costTeachShort(s), cw, ""), "\n")
	}
	for _, l := range teach {
		lines = append(lines, st.Faint.S(l))
	}
	if len(lines)+2 <= inner {
		lines = append(lines, st.Faint.S(cut("on-demand bills each record rounded up to 1 KiB", cw)))
	}
	now := "? itemises the bill"
	if s.OpenShards > 0 {
		pct := s.Utilisation.Max * 100
		now = st.level(pct).S("load now "+strconv.Itoa(int(math.Round(min(pct, 999))))+"% "+utilUnit(s.Utilisation.By)) + " · " + now
	}
	// The load line stays at the bottom when the lesson wraps long.
	if inner := p.h - 2; len(lines) >= inner {
		lines = lines[:max(0, inner-1)]
	}
	lines = append(lines, now)
	return box(st, "Cost · "+modeWord(e.Current)+" now · m switches", lines, p.w, p.h, false)
}

// row is one mode's price, marked when it is the cheaper one (the title
// says which is current).
func (p *costPane) row(e *engine.CostEstimate, m engine.StreamMode, hourly, monthly float64) string {
	st := p.ctx.Styles
	t := fit(modeWord(m), 11) + " " + fitRight(money(hourly), 6) + "/h " + fitRight(money(monthly), 7) + "/mo"
	if m == e.Cheaper {
		return st.OK.S(t + "  ✓ cheaper")
	}
	return t
}

// modeWord is how people say a capacity mode: "provisioned", "on-demand".
func modeWord(m engine.StreamMode) string {
	if m == engine.ModeOnDemand {
		return "on-demand"
	}
	return "provisioned"
}

// costTeach says when each mode is cheaper, for this workload's record
// size and reads.
func costTeach(s *engine.StreamSnapshot) string {
	e := &s.Cost
	switch {
	case e.BreakEven > 0:
		return fmt.Sprintf("on-demand is cheaper below %s of %s write capacity, provisioned above",
			percent(e.BreakEven), shardsOf(e.ProvisionedShards))
	case idle(e):
		return fmt.Sprintf("idle: on-demand pays its stream-hour, provisioned its %s; write records to see where they cross",
			plural(e.ProvisionedShards, "shard-hour"))
	}
	return fmt.Sprintf("%s is cheaper at any load %s can carry, for records like these",
		modeWord(e.Cheaper), plural(e.ProvisionedShards, "shard"))
}

// costTeachShort is costTeach in a few words, for a small box.
func costTeachShort(s *engine.StreamSnapshot) string {
	e := &s.Cost
	switch {
	case e.BreakEven > 0:
		return "on-demand cheaper below " + percent(e.BreakEven) + " load"
	case idle(e):
		return fmt.Sprintf("idle: on-demand pays its stream-hour, provisioned its %s", plural(e.ProvisionedShards, "shard-hour"))
	}
	return modeWord(e.Cheaper) + " cheaper at any load"
}

// idle reports whether the estimate priced no writes at all.
func idle(e *engine.CostEstimate) bool {
	for _, l := range e.Lines {
		if l.Mode == engine.ModeOnDemand && strings.Contains(l.Item, "GB in") && l.Hourly > 0 {
			return false
		}
	}
	return true
}

// percent writes a share (0–1) as a percentage with one decimal below 10 %.
func percent(f float64) string {
	if f < 0.1 {
		return fmt.Sprintf("%.1f%%", f*100)
	}
	return fmt.Sprintf("%.0f%%", f*100)
}

// costNotes are the help view's lessons on capacity modes: the general
// rule, this stream's figures with where the modes cross, the itemised
// bill and what it was computed from.
func costNotes(s *engine.StreamSnapshot) []string {
	notes := []string{"capacity modes: PROVISIONED pays for its shards by the hour whether they are busy or not (plus PUT payload units); " +
		"ON_DEMAND pays a stream-hour plus every GB written and read, and adds shards itself when they run hot. " +
		"Idle or spiky loads favour on-demand, steady busy ones provisioned; m switches the watched stream's mode."}
	if s == nil || s.Cost.Current == "" {
		return notes
	}
	e := &s.Cost
	notes = append(notes, "cost of "+s.Name+" now: "+e.Explain()+".")
	for _, m := range []engine.StreamMode{engine.ModeProvisioned, engine.ModeOnDemand} {
		var items []string
		total := 0.0
		for _, l := range e.Lines {
			if l.Mode == m {
				items = append(items, l.Item+" = "+money(l.Hourly))
				total += l.Hourly
			}
		}
		if len(items) > 0 {
			notes = append(notes, modeWord(m)+" "+money(total)+"/h: "+strings.Join(items, " + "))
		}
	}
	if e.Basis != "" {
		notes = append(notes, "basis: "+e.Basis)
	}
	return notes
}

// plural says "1 shard", "4 shards".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// shardsOf is the possessive of a shard count: "1 shard's", "4 shards'".
func shardsOf(n int) string {
	if n == 1 {
		return "1 shard's"
	}
	return strconv.Itoa(n) + " shards'"
}
