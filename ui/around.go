package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// aroundPane lists the triggers, deliveries and Kinesis Agent flows the
// backend runs around its streams (the console's --config): what each
// feeds or reads, its live figures and its last error. It is shown only
// while there are some.
type aroundPane struct {
	ctx    *Context
	w, h   int
	offset int
}

func newAround(ctx *Context) *aroundPane { return &aroundPane{ctx: ctx} }

// SetSize sets the box size.
func (p *aroundPane) SetSize(w, h int) { p.w, p.h = w, h }

// HelpKeys returns the keys that act on the pane.
func (p *aroundPane) HelpKeys() []key.Binding {
	return []key.Binding{withHelp(p.ctx.Keys.Up, "↑/↓", "scroll"), withHelp(p.ctx.Keys.PageUp, "pgup/pgdn", "page")}
}

// Update has nothing to keep: the pane draws the latest tick's views.
func (p *aroundPane) Update(tea.Msg) tea.Cmd { return nil }

func (p *aroundPane) scroll(d int) {
	p.offset = max(0, min(p.offset+d, len(p.lines())-1))
}

// lines are the pane's text, before the box cuts it to size.
func (p *aroundPane) lines() []string {
	st := p.ctx.Styles
	textW := max(10, p.w-6)
	var out []string
	for _, v := range p.ctx.Around {
		kind := st.Accent.S(fitRight(v.Kind, 8))
		out = append(out, kind+" "+ansi.Truncate(v.Name+" → "+v.Target, textW-9, "…"))
		for _, f := range v.Figures {
			for _, l := range strings.Split(ansi.Wrap(f, textW-2, ""), "\n") {
				out = append(out, "  "+l)
			}
		}
		if v.LastError != "" {
			out = append(out, "  "+st.Danger.S(ansi.Truncate("last error: "+v.LastError, textW-2, "…")))
		}
	}
	return out
}

// View draws the box.
func (p *aroundPane) View() string {
	lines := p.lines()
	title := "Around · triggers, deliveries, agent"
	if p.offset > 0 {
		title += " (scrolled)"
	}
	return box(p.ctx.Styles, title, lines[min(p.offset, len(lines)):], p.w, p.h, p.ctx.Focus == paneAround)
}
