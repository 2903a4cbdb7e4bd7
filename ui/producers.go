package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// producersPane lists the synthetic producers; the selected one is what
// +, -, b, t, K and g act on.
type producersPane struct {
	ctx    *Context
	w, h   int
	sel    string
	offset int // first producer shown
}

func newProducers(ctx *Context) *producersPane { return &producersPane{ctx: ctx} }

// SetSize sets the box size.
func (p *producersPane) SetSize(w, h int) { p.w, p.h = w, h; p.clamp() }

// HelpKeys returns the keys that act on producers.
func (p *producersPane) HelpKeys() []key.Binding {
	k := p.ctx.Keys
	return []key.Binding{withHelp(k.Up, "↑/↓", "select producer"), k.RateUp, k.RateDown, k.Burst, k.Toggle, k.Skew, k.Aggregate}
}

// Update keeps the selection on new data and moves it on keys.
func (p *producersPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		if p.index() < 0 && len(p.ctx.Producers) > 0 {
			p.sel = p.ctx.Producers[0].Name
		}
		p.clamp()
	case tea.KeyMsg:
		k := p.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.move(-1)
		case key.Matches(msg, k.Down):
			p.move(1)
		case key.Matches(msg, k.PageUp):
			p.move(-max(1, (p.h-2)/p.linesPer()))
		case key.Matches(msg, k.PageDown):
			p.move(max(1, (p.h-2)/p.linesPer()))
		case key.Matches(msg, k.Top):
			p.move(-len(p.ctx.Producers))
		case key.Matches(msg, k.Bottom):
			p.move(len(p.ctx.Producers))
		}
	}
	return nil
}

func (p *producersPane) index() int {
	for i, v := range p.ctx.Producers {
		if v.Name == p.sel {
			return i
		}
	}
	return -1
}

func (p *producersPane) move(d int) {
	n := len(p.ctx.Producers)
	if n == 0 {
		return
	}
	i := max(0, min(n-1, p.index()+d))
	p.sel = p.ctx.Producers[i].Name
	p.clamp()
}

// Selected returns the selected producer's name, "" when there is none.
func (p *producersPane) Selected() string {
	if p.index() < 0 {
		return ""
	}
	return p.sel
}

// linesPer is how many lines one producer takes at this width: two when
// the first line fits with its rates, KPL and BURST (74 cells).
func (p *producersPane) linesPer() int {
	if p.w-4 >= 74 {
		return 2
	}
	return 3
}

func (p *producersPane) clamp() {
	per := p.linesPer()
	vis := max(1, (p.h-2)/per)
	i := max(0, p.index())
	if i < p.offset {
		p.offset = i
	}
	if i >= p.offset+vis {
		p.offset = i - vis + 1
	}
	p.offset = max(0, min(p.offset, len(p.ctx.Producers)-vis))
}

// View renders the producers box.
func (p *producersPane) View() string {
	c, st := p.ctx, p.ctx.Styles
	focused := c.Focus == paneProducers
	cw := p.w - 4
	var lines []string
	if len(c.Producers) == 0 {
		lines = append(lines, st.Faint.S("no producers"))
	}
	for i := p.offset; i < len(c.Producers); i++ {
		lines = append(lines, p.entry(&c.Producers[i], cw, c.Producers[i].Name == p.sel)...)
	}
	return box(st, "Producers", lines, p.w, p.h, focused)
}

// entry renders one producer in two lines (wide) or three (narrow):
//
//	▸ clickstream          ON   zipf      KPL BURST
//	  rate   800/s  actual   792/s  sent 96.1k
//	  rej   410 = retry   402 + gave up    8
func (p *producersPane) entry(v *ProducerView, cw int, selected bool) []string {
	st := p.ctx.Styles
	var b strings.Builder
	if selected {
		b.WriteString(st.Accent.S("▸ "))
	} else {
		b.WriteString("  ")
	}
	two := p.linesPer() == 2
	nameW := cw - 2 - 5 - 11 - 4 - 6
	if two {
		nameW = 16
	}
	name := fit(v.Name, nameW)
	if selected {
		name = st.Bold.S(name)
	}
	b.WriteString(name)
	if v.On {
		b.WriteString(" " + st.OK.S("ON ") + " ")
	} else {
		b.WriteString(" " + st.Faint.S("OFF") + " ")
	}
	rates := "rate " + fitRight(rate(v.Rate), 5) + "/s  actual " + fitRight(rate(v.ActualRate), 5) + "/s"
	if two {
		b.WriteString(" " + rates + "  ")
	}
	b.WriteString(" " + fit(v.Skew, 9))
	// A fixed-width column, so BURST stays aligned across producers.
	if v.Aggregating {
		b.WriteString(" " + st.Accent.S("KPL"))
	} else if v.Bursting {
		b.WriteString("    ")
	}
	if v.Bursting {
		b.WriteString(" " + st.Warn.S("BURST"))
	}
	out := []string{b.String()}

	// Each rejected attempt is either retried or given up: the figures add up.
	counts := "rej " + fitRight(count(v.Throttled+v.Failed), 5) + " = retry " + fitRight(count(v.Retried), 5) +
		" + gave up " + fitRight(count(v.GivenUp), 4)
	if v.Throttled > 0 || v.GivenUp > 0 {
		counts = st.Warn.S(counts)
	}
	if two {
		out = append(out, "    sent "+fitRight(count(v.Sent), 6)+"  "+counts)
	} else {
		out = append(out, "    "+rates+"  sent "+fitRight(count(v.Sent), 5), "    "+counts)
	}
	if v.Errors > 0 || v.LastError != "" {
		e := "⚠ " + commas(v.Errors) + " errors"
		if v.LastError != "" {
			e += ": " + clean(v.LastError, cw)
		}
		out = append(out, "    "+st.Danger.S(cut(e, cw-4)))
	}
	return out
}
