package ui

import "strings"

// boxGlyphs are the characters of a border.
type boxGlyphs struct{ tl, tr, bl, br, h, v string }

var (
	lightBox = boxGlyphs{"╭", "╮", "╰", "╯", "─", "│"}
	heavyBox = boxGlyphs{"┏", "┓", "┗", "┛", "━", "┃"}
)

// box draws a rounded border of exactly w×h cells with the title set into
// the top edge and the lines inside, each cut or padded to w−4 cells (one
// space of padding each side). Lines past the box's height are dropped.
func box(s *Styles, title string, lines []string, w, h int, focused bool) string {
	if w < 4 || h < 2 {
		return ""
	}
	// The focused pane gets heavy lines as well as the accent colour, so
	// focus shows without colour too.
	border, titlePaint, g := s.Border, s.Title, &lightBox
	if focused {
		border, titlePaint, g = s.BorderFocused, s.TitleFocused, &heavyBox
	}
	var b strings.Builder
	b.Grow(w * h * 2)
	inner := w - 2

	// top edge: ╭─ Title ───╮
	t := cut(title, max(0, inner-4))
	tw := width(t)
	b.WriteString(border.S(g.tl + g.h))
	if tw > 0 {
		b.WriteString(" ")
		b.WriteString(titlePaint.S(t))
		b.WriteString(" ")
		b.WriteString(border.S(repeat(g.h, inner-1-tw-2)))
	} else {
		b.WriteString(border.S(repeat(g.h, inner-1)))
	}
	b.WriteString(border.S(g.tr))

	left, right := border.S(g.v)+" ", " "+border.S(g.v)
	for i := 0; i < h-2; i++ {
		b.WriteByte('\n')
		b.WriteString(left)
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		b.WriteString(fit(line, w-4))
		b.WriteString(right)
	}
	b.WriteByte('\n')
	b.WriteString(border.S(g.bl + repeat(g.h, inner) + g.br))
	return b.String()
}

// joinColumns puts blocks of lines side by side. Each block must have the
// same number of lines, each of its own fixed width.
func joinColumns(blocks ...string) string {
	split := make([][]string, len(blocks))
	rows := 0
	for i, bl := range blocks {
		split[i] = strings.Split(bl, "\n")
		rows = max(rows, len(split[i]))
	}
	var b strings.Builder
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte('\n')
		}
		for _, lines := range split {
			if r < len(lines) {
				b.WriteString(lines[r])
			}
		}
	}
	return b.String()
}
