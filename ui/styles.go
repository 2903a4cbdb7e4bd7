package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// paint is a lipgloss style reduced to the escape sequences around its
// text. The panes colour hundreds of small cells per frame; wrapping a
// string in two precomputed sequences costs nothing, where Style.Render
// re-resolves the style every time. Only styles without width, padding or
// borders can be painted this way.
type paint struct{ pre, post string }

// newPaint renders a marker through s once and keeps what surrounds it.
func newPaint(s lipgloss.Style) paint {
	const marker = "X"
	out := s.Render(marker)
	i := strings.Index(out, marker)
	if i < 0 {
		return paint{}
	}
	return paint{pre: out[:i], post: out[i+len(marker):]}
}

// S returns s wrapped in the paint's sequences.
func (p paint) S(s string) string {
	if p.pre == "" || s == "" {
		return s
	}
	return p.pre + s + p.post
}

// Styles holds every style the console uses, built once from a Theme by
// NewStyles. Views only apply them.
type Styles struct {
	Brand         paint // "shardscope" in the header
	Bold          paint // stream name, selected rows
	Faint         paint // column headers, hints, closed shards
	Accent        paint // titles of the focused pane, action outcomes
	OK            paint
	Warn          paint
	Danger        paint
	Border        paint
	BorderFocused paint
	Title         paint
	TitleFocused  paint

	// Help styles the bubbles help view.
	Help help.Styles
	// Spinner, Prompt and Input style the bubbles spinner and text input.
	Spinner lipgloss.Style
	Prompt  lipgloss.Style
	Input   lipgloss.Style
}

// NewStyles builds the console's styles from a theme. Call it after the
// colour profile is settled (lipgloss detects it on first use).
func NewStyles(t Theme) *Styles {
	base := lipgloss.NewStyle()
	fg := func(c lipgloss.AdaptiveColor) lipgloss.Style { return base.Foreground(c) }
	s := &Styles{
		Brand:         newPaint(fg(t.Accent).Bold(true)),
		Bold:          newPaint(fg(t.Primary).Bold(true)),
		Faint:         newPaint(fg(t.Faint)),
		Accent:        newPaint(fg(t.Accent)),
		OK:            newPaint(fg(t.OK)),
		Warn:          newPaint(fg(t.Warn)),
		Danger:        newPaint(fg(t.Danger).Bold(true)),
		Border:        newPaint(fg(t.Border)),
		BorderFocused: newPaint(fg(t.Accent)),
		Title:         newPaint(fg(t.Primary).Bold(true)),
		TitleFocused:  newPaint(fg(t.Accent).Bold(true)),
		Spinner:       fg(t.Accent),
		Prompt:        fg(t.Accent),
		Input:         fg(t.Primary),
	}
	keyStyle := fg(t.Primary).Bold(true)
	descStyle := fg(t.Faint)
	sepStyle := fg(t.Border)
	s.Help = help.Styles{
		Ellipsis:       sepStyle,
		ShortKey:       keyStyle,
		ShortDesc:      descStyle,
		ShortSeparator: sepStyle,
		FullKey:        keyStyle,
		FullDesc:       descStyle,
		FullSeparator:  sepStyle,
	}
	return s
}

// level picks the paint for a share of a limit: ok below 70 %, warn below
// 90 %, danger from 90 %.
func (s *Styles) level(pct float64) paint {
	switch {
	case pct >= 90:
		return s.Danger
	case pct >= 70:
		return s.Warn
	}
	return s.OK
}
