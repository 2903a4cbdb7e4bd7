package ui

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// consumersPane lists the consumer applications: how far behind they are,
// how many shards they finished, and a few lines of their live results.
type consumersPane struct {
	ctx    *Context
	w, h   int
	sel    int
	offset int // first line shown
}

func newConsumers(ctx *Context) *consumersPane { return &consumersPane{ctx: ctx} }

// SetSize sets the box size.
func (p *consumersPane) SetSize(w, h int) { p.w, p.h = w, h; p.clamp() }

// HelpKeys returns the keys that act on consumers.
func (p *consumersPane) HelpKeys() []key.Binding {
	return []key.Binding{withHelp(p.ctx.Keys.Up, "↑/↓", "select consumer")}
}

// Update moves the selection and keeps it in view.
func (p *consumersPane) Update(msg tea.Msg) tea.Cmd {
	n := len(p.ctx.Consumers)
	switch msg := msg.(type) {
	case dataMsg:
		p.sel = max(0, min(p.sel, n-1))
	case tea.KeyMsg:
		k := p.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.sel = max(0, p.sel-1)
		case key.Matches(msg, k.Down):
			p.sel = max(0, min(n-1, p.sel+1))
		}
	}
	p.clamp()
	return nil
}

// clamp scrolls so the selected application's lines are on screen.
func (p *consumersPane) clamp() {
	start, total := 0, 0
	selH := 0
	for i := range p.ctx.Consumers {
		hgt := p.entryHeight(&p.ctx.Consumers[i])
		if i == p.sel {
			start, selH = total, hgt
		}
		total += hgt
	}
	vis := max(1, p.h-2)
	if start < p.offset {
		p.offset = start
	}
	if start+selH > p.offset+vis {
		p.offset = max(start, start+selH-vis)
	}
	p.offset = max(0, min(p.offset, total-vis))
}

// entryHeight is how many lines entry returns for v.
func (p *consumersPane) entryHeight(v *ConsumerView) int { return 2 + min(3, len(v.Summary)) }

// View renders the consumers box.
func (p *consumersPane) View() string {
	c, st := p.ctx, p.ctx.Styles
	cw := p.w - 4
	var lines []string
	if len(c.Consumers) == 0 {
		lines = append(lines, st.Faint.S("no consumer applications"))
	}
	for i := range c.Consumers {
		lines = append(lines, p.entry(&c.Consumers[i], cw, i == p.sel && c.Focus == paneConsumers)...)
	}
	return box(st, "Consumers", lines[min(p.offset, len(lines)):], p.w, p.h, c.Focus == paneConsumers)
}

// entry renders one application:
//
//	▸ page-stats       lag  120 ms   4/4 ✓
//	    96.1k records  thr 0  slowest …000 2.1 s
//	    top: /home 31%  /cart 12%
func (p *consumersPane) entry(v *ConsumerView, cw int, selected bool) []string {
	st := p.ctx.Styles
	var b strings.Builder
	if selected {
		b.WriteString(st.Accent.S("▸ "))
	} else {
		b.WriteString("  ")
	}
	name := fit(v.Name, max(8, cw-2-24))
	if selected {
		name = st.Bold.S(name)
	}
	b.WriteString(name)
	l := "lag " + fitRight(lag(v.Lag), 7)
	switch {
	case v.Lag >= 10*time.Second:
		l = st.Danger.S(l)
	case v.Lag >= 2*time.Second:
		l = st.Warn.S(l)
	}
	b.WriteString("  " + l)
	done := fitRight(strconv.Itoa(v.ShardsDone)+"/"+strconv.Itoa(v.Shards), 5)
	if v.Shards > 0 && v.ShardsDone == v.Shards {
		done += " " + st.OK.S("✓")
	} else {
		done += "  "
	}
	b.WriteString("  " + done)
	out := []string{b.String()}

	stats := fitRight(count(v.Records), 5) + " rec  thr " + count(v.Throttled)
	if v.Throttled > 0 {
		stats = st.Warn.S(stats)
	}
	if id, d, ok := slowest(v.PerShardLag); ok {
		stats += "  slowest " + tinyShard(id, 3) + " " + lag(d)
	}
	out = append(out, "    "+stats)
	for i, s := range v.Summary {
		if i == 3 {
			break
		}
		out = append(out, "    "+cut(clean(s, cw), cw-4))
	}
	return out
}

// slowest returns the shard with the largest lag (ties by ID, so the
// choice is stable between frames).
func slowest(m map[string]time.Duration) (string, time.Duration, bool) {
	if len(m) == 0 {
		return "", 0, false
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	best := ids[0]
	for _, id := range ids[1:] {
		if m[id] > m[best] {
			best = id
		}
	}
	return best, m[best], true
}
