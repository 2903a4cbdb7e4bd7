package ui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/shardscope/shardscope/engine"
)

// maxEventLines bounds the events pane's history.
const maxEventLines = 500

// eventLine is one line of the events pane.
type eventLine struct {
	At   time.Time
	Kind string // engine event kind, "action", "copy", "watch", "consumer" or "error"
	// Stream is the engine event's stream; the line names it when it is
	// not the watched one.
	Stream string
	Text   string
	Bad    bool
	// Ahead is how far the engine's clock ran ahead of the console's when
	// an engine event happened: At is then on the console's clock and the
	// line says "+Nh".
	Ahead time.Duration
}

// kindLabel is the events pane's word for an event kind, at most nine
// cells: the engine's names, with the two that name a mechanism rather
// than what people watch said plainly.
func kindLabel(kind string) string {
	switch kind {
	case string(engine.EventMode):
		return "capacity" // mode changes and on-demand scaling decisions
	case string(engine.EventFanOut):
		return "fan-out"
	}
	return kind
}

// eventsPane shows engine events and the outcomes of the user's actions,
// newest at the top.
type eventsPane struct {
	ctx     *Context
	w, h    int
	lines   *ring[eventLine]
	lastSeq uint64
	seen    bool // lastSeq is valid
	offset  int  // lines scrolled down from the newest
}

func newEvents(ctx *Context) *eventsPane {
	return &eventsPane{ctx: ctx, lines: newRing[eventLine](maxEventLines)}
}

// SetSize sets the box size.
func (p *eventsPane) SetSize(w, h int) { p.w, p.h = w, h }

// HelpKeys returns the keys that act on the events pane.
func (p *eventsPane) HelpKeys() []key.Binding {
	return []key.Binding{withHelp(p.ctx.Keys.Up, "↑/↓", "scroll events"), withHelp(p.ctx.Keys.PageUp, "pgup/pgdn", "page")}
}

// Add appends a line.
func (p *eventsPane) Add(l eventLine) {
	p.lines.Push(l)
	if p.offset > 0 {
		p.offset++ // keep the lines being read in place
	}
}

// Update takes the snapshot's new engine events and scrolls on keys.
func (p *eventsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		p.addEngine(msg.Snap.Events)
		for _, v := range msg.Consumers {
			for _, text := range v.Events {
				p.Add(eventLine{At: p.ctx.Now(), Kind: "consumer", Stream: v.Stream, Text: text})
			}
		}
	case tea.KeyMsg:
		k := p.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.scroll(-1)
		case key.Matches(msg, k.Down):
			p.scroll(1)
		case key.Matches(msg, k.PageUp):
			p.scroll(-max(1, p.h-3))
		case key.Matches(msg, k.PageDown):
			p.scroll(max(1, p.h-3))
		case key.Matches(msg, k.Top), key.Matches(msg, k.Bottom):
			p.offset = 0 // the newest is at the top
		}
	}
	return nil
}

// scroll moves down (d > 0, to older lines) or up, newest first.
func (p *eventsPane) scroll(d int) {
	p.offset = max(0, min(max(0, p.lines.Len()-1), p.offset+d))
}

// addEngine adds the events not seen yet. Seq grows by one per event; a
// smaller one than we saw means the engine restarted, so start over.
func (p *eventsPane) addEngine(evs []engine.Event) {
	if len(evs) > 0 && evs[len(evs)-1].Seq < p.lastSeq {
		p.seen = false
	}
	for _, e := range evs {
		if p.seen && e.Seq <= p.lastSeq {
			continue
		}
		a := p.ctx.Ahead
		p.Add(eventLine{At: e.At.Add(-a), Ahead: a, Kind: string(e.Kind), Stream: e.Stream, Text: e.Message, Bad: e.Kind == engine.EventError})
		p.lastSeq, p.seen = e.Seq, true
	}
}

// View renders the events box, newest first.
func (p *eventsPane) View() string {
	st := p.ctx.Styles
	vis := max(1, p.h-2)
	lines := make([]string, 0, vis)
	n := p.lines.Len()
	if n == 0 {
		lines = append(lines, st.Faint.S("no events yet: split a shard (S) or raise a rate (+) to make some"))
	}
	// time (8) + 2 + kind (9) + 1: long messages wrap under their text.
	const indent = 20
	textW := max(10, p.w-4-indent)
	for i := n - 1 - p.offset; i >= 0 && len(lines) < vis; i-- {
		l := p.lines.At(i)
		kind := fit(kindLabel(l.Kind), 9)
		switch {
		case l.Bad:
			kind = st.Danger.S(kind)
		case l.Kind == string(engine.EventThrottle), l.Kind == string(engine.EventAccess), l.Kind == "hot key":
			kind = st.Warn.S(kind)
		case l.Kind == "action" || l.Kind == "copy" || l.Kind == "watch":
			kind = st.Accent.S(kind)
		default:
			kind = st.Faint.S(kind)
		}
		text := l.Text
		if l.Stream != "" && l.Stream != p.ctx.StreamName {
			text = l.Stream + ": " + text
		}
		if l.Ahead > 0 {
			text = st.Accent.S("["+lapse(l.Ahead)+" engine]") + " " + text
		}
		text = clean(text, 4*p.w)
		parts := []string{text}
		if width(text) > textW {
			parts = strings.Split(ansi.Wrap(text, textW, ""), "\n")
		}
		for j, part := range parts {
			if l.Bad {
				part = st.Danger.S(part)
			}
			if j == 0 {
				at := l.At.Format("15:04:05")
				if y, m, d := l.At.Date(); !p.ctx.At.IsZero() && (y != p.ctx.At.Year() || m != p.ctx.At.Month() || d != p.ctx.At.Day()) {
					part = st.Faint.S(l.At.Format("Jan 2")) + " " + part // another day
				}
				lines = append(lines, st.Faint.S(at)+"  "+kind+" "+part)
			} else {
				lines = append(lines, spaces(indent)+part)
			}
		}
	}
	title := "Events"
	if p.offset > 0 {
		title += " (scrolled: ↑ for newer)"
	}
	return box(st, title, lines, p.w, p.h, p.ctx.Focus == paneEvents)
}

// Text returns the plain text of the newest lines, for tests.
func (p *eventsPane) Text(n int) []string {
	var out []string
	for i := p.lines.Len() - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, p.lines.At(i).Text)
	}
	return out
}
