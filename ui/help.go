package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"
)

// helpGroup is one titled column of the full help.
type helpGroup struct {
	title    string
	bindings []key.Binding
}

// helpView renders the one-line short help and the full help overlay,
// both generated from the KeyMap and varying with the focused pane.
type helpView struct {
	ctx   *Context
	model help.Model
}

func newHelpView(ctx *Context) *helpView {
	h := help.New()
	h.Styles = ctx.Styles.Help
	h.ShortSeparator = "  "
	h.FullSeparator = "   "
	return &helpView{ctx: ctx, model: h}
}

// groups returns the full help's columns: navigate, load experiments,
// feed and app, with the focused pane's own group first.
func (h *helpView) groups() []helpGroup {
	k := h.ctx.Keys
	var up string
	switch h.ctx.Focus {
	case paneShards:
		up = "select shard"
	case paneFeed:
		up = "select record (pauses)"
	case paneProducers:
		up = "select producer"
	case paneConsumers:
		up = "select app or worker"
	default:
		up = "scroll events"
	}
	nav := helpGroup{"navigate", []key.Binding{
		withHelp(k.Up, "↑/k ↓/j", up), withHelp(k.PageUp, "pgup/pgdn", "page"), k.NextPane, k.PrevPane,
	}}
	load := helpGroup{"load experiments", []key.Binding{
		k.RateUp, k.RateDown, k.Burst, k.Toggle, k.Skew, k.Aggregate, k.Split, k.Merge, k.RetentionUp, k.RetentionDown, k.TimeLapse, k.TimeLapseLong, k.Mode,
	}}
	cons := helpGroup{"consumers", []key.Binding{k.AddPolling, k.RemovePolling, k.AddFanOut, k.RemoveFanOut, k.StopWorker}}
	feed := helpGroup{"feed", []key.Binding{k.Pause, k.Filter, k.Open, k.Copy, withHelp(k.Close, "esc", "close detail/filter")}}
	app := helpGroup{"app", []key.Binding{k.NextStream, withHelp(k.Help, "?", "toggle this help"), withHelp(k.Quit, "q/ctrl+c", "quit")}}
	switch h.ctx.Focus {
	case paneFeed:
		return []helpGroup{feed, nav, load, cons, app}
	case paneShards, paneProducers:
		return []helpGroup{load, nav, cons, feed, app}
	case paneConsumers:
		return []helpGroup{cons, nav, load, feed, app}
	}
	return []helpGroup{nav, load, cons, feed, app}
}

// Full renders the full help into a box of w×h.
func (h *helpView) Full(w, h2 int) string {
	st := h.ctx.Styles
	cw := w - 4
	blocks := make([][]string, 0, 5)
	for _, g := range h.groups() {
		col := []string{st.Accent.S(g.title)}
		col = append(col, strings.Split(h.model.FullHelpView([][]key.Binding{g.bindings}), "\n")...)
		blocks = append(blocks, col)
	}
	// Pack the columns left to right, wrapping to a new row when full.
	var lines []string
	var row [][]string
	rowW := 0
	flush := func() {
		if len(row) == 0 {
			return
		}
		tall := 0
		widths := make([]int, len(row))
		for i, c := range row {
			tall = max(tall, len(c))
			for _, l := range c {
				widths[i] = max(widths[i], width(l))
			}
		}
		for r := 0; r < tall; r++ {
			var b strings.Builder
			for i, c := range row {
				l := ""
				if r < len(c) {
					l = c[r]
				}
				b.WriteString(fit(l, widths[i]))
				if i < len(row)-1 {
					b.WriteString("    ")
				}
			}
			lines = append(lines, b.String())
		}
		lines = append(lines, "")
		row, rowW = nil, 0
	}
	for _, c := range blocks {
		cw2 := 0
		for _, l := range c {
			cw2 = max(cw2, width(l))
		}
		if rowW > 0 && rowW+4+cw2 > cw {
			flush()
		}
		if rowW > 0 {
			rowW += 4
		}
		row = append(row, c)
		rowW += cw2
	}
	flush()
	// Notes go in while they fit, wrapped to the box: the cost lesson
	// first, as the help is where it has room.
	notes := costNotes(h.ctx.Stream)
	notes = append(notes,
		"consumers: polling applications share each shard's 2 MiB/s and 5 GetRecords calls/s, so one more slows the others and shows as read throttling; "+
			"each fan-out consumer gets its own 2 MiB/s per shard, pushed over SubscribeToShard, and costs extra. "+
			"Workers share an application's shards through leases: stop one (x) and the others take its leases from the checkpoints.",
		"filter syntax: text matches shard, partition key or data · re:expr or /expr/ is a regex · a leading ! inverts",
		"write gauges show the nearer per-shard limit (1,000 records/s or 1 MiB/s) and say which: \"rec\" or \"MB\"",
	)
	for _, note := range notes {
		wrapped := strings.Split(ansi.Wrap(note, cw, ""), "\n")
		if len(lines)+len(wrapped) > h2-2 {
			break
		}
		for _, l := range wrapped {
			lines = append(lines, st.Faint.S(l))
		}
	}
	return box(st, "Help · focus: "+h.ctx.Focus.String()+" · ? or esc to close", lines, w, h2, true)
}

// Short renders the one-line help for the given bindings in w cells. The
// last three (pane, help, quit) always stay: the ones before them go,
// from the end, until the line fits.
func (h *helpView) Short(bindings []key.Binding, w int) string {
	h.model.Width = 0
	for len(bindings) > 3 {
		if v := h.model.ShortHelpView(bindings); width(v) <= w {
			return v
		}
		n := len(bindings)
		bindings = append(bindings[:n-4:n-4], bindings[n-3:]...)
	}
	h.model.Width = w
	return h.model.ShortHelpView(bindings)
}
