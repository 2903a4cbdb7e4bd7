package ui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
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
	// offset is the first line shown; the help scrolls when it is taller
	// than the screen. last is the largest useful offset of the last frame.
	offset, last int
}

// Scroll moves the help on ↑/↓, pgup/pgdn, home, end/G.
func (h *helpView) Scroll(msg tea.KeyMsg) {
	k := h.ctx.Keys
	page := max(1, h.ctx.Height-5)
	switch {
	case key.Matches(msg, k.Up):
		h.offset--
	case key.Matches(msg, k.Down):
		h.offset++
	case key.Matches(msg, k.PageUp):
		h.offset -= page
	case key.Matches(msg, k.PageDown):
		h.offset += page
	case key.Matches(msg, k.Top):
		h.offset = 0
	case key.Matches(msg, k.Bottom):
		h.offset = h.last
	}
	h.offset = max(0, min(h.offset, h.last))
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
		withHelp(k.Up, "↑/k ↓/j", up), withHelp(k.PageUp, "pgup/pgdn", "page"), withHelp(k.Bottom, "home/G/end", "top / bottom (feed: live)"),
		withHelp(k.Up, "mouse", "wheel scrolls, click selects"), k.NextPane, k.PrevPane,
	}}
	load := helpGroup{"load experiments", []key.Binding{
		k.RateUp, k.RateDown, k.Burst, k.Toggle, k.Skew, k.Aggregate, k.Split, k.Merge, k.RetentionUp, k.RetentionDown, k.TimeLapse, k.TimeLapseLong, k.Mode,
	}}
	cons := helpGroup{"consumers", []key.Binding{k.AddPolling, k.RemovePolling, k.AddFanOut, k.RemoveFanOut, k.StopWorker}}
	feed := helpGroup{"feed", []key.Binding{k.Pause, k.Filter, k.Open, k.Copy, k.Replay, withHelp(k.Close, "esc", "close detail/filter/replay")}}
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
		for _, l := range strings.Split(ansi.Wrap(note, cw, ""), "\n") {
			lines = append(lines, st.Faint.S(l))
		}
	}
	lines = append(lines, "", st.Accent.S("glossary"))
	for _, g := range glossary {
		for i, l := range strings.Split(ansi.Wrap(st.Bold.S(g[0])+"  "+g[1], cw-2, ""), "\n") {
			if i > 0 {
				l = "  " + l
			}
			lines = append(lines, l)
		}
	}
	vis := max(1, h2-2)
	h.last = max(0, len(lines)-vis)
	off := min(h.offset, h.last)
	title := "Help · focus: " + h.ctx.Focus.String() + " · ? esc q close"
	if h.last > 0 {
		title += " · ↑↓ pgup/pgdn scroll " + strconv.Itoa(min(100, (off+vis)*100/len(lines))) + "%"
	}
	return box(st, title, lines[off:], w, h2, true)
}

// glossary explains every term the console shows, one line each.
var glossary = [][2]string{
	{"rej/s", "write attempts a shard refused in the last second (over 1,000 records/s or 1 MiB/s); a record retried and refused again counts again, so it can exceed what producers offer"},
	{"rej = retry + gave up", "a producer's refused records: each is sent again (retry) or dropped once its attempts run out (gave up)"},
	{"rec / MB gauge", "a shard's writes against the nearer of its two limits: 1,000 records/s (rec) or 1 MiB/s (MB); amber at 70 %, red at 90 %"},
	{"read", "what consumers read from a shard per second: shared GetRecords reads plus enhanced fan-out pushes"},
	{"capacity", "the last second's writes as a share of the open shards' write capacity"},
	{"PROV / OD", "capacity modes: PROVISIONED pays per shard-hour, busy or not; ON_DEMAND pays per GB (each record rounded up to 1 KiB) and adds shards itself"},
	{"oldest", "age of a shard's oldest record against the retention period; past it the record is trimmed"},
	{"lag", "how long before the newest record in a shard arrived the last record an application read; it grows while nobody reads the shard"},
	{"behind", "records an application has yet to read, from its checkpoint to the newest record"},
	{"iterator age", "CloudWatch's name for lag: GetRecords.IteratorAgeMilliseconds, the age of the record a reader is at"},
	{"N/M ✓", "shards an application is caught up on (under a second behind) or has read to their end, of those it knows"},
	{"leases", "which worker reads which shard; a worker renews its leases, and a stopped worker's leases expire and move with their checkpoints"},
	{"free", "a lease no worker holds: its shard waits for a worker"},
	{"checkpoint", "the last record an application processed in a shard: a sequence number, TRIM_HORIZON, LATEST or SHARD_END"},
	{"TRIM_HORIZON", "an iterator type: the oldest record still held, where a shard without a checkpoint is read from"},
	{"LATEST", "an iterator type: just after the newest record, so reading starts with the next one written"},
	{"AT_SEQUENCE_NUMBER", "an iterator type: read from the record with this sequence number on (i replays a shard from any of the five)"},
	{"AFTER_SEQUENCE_NUMBER", "an iterator type: read from the record after this one — where a checkpoint resumes"},
	{"AT_TIMESTAMP", "an iterator type: read from the first record that arrived at or after a time, on the engine's clock (a time-lapse moves it)"},
	{"SHARD_END", "a closed shard (split or merged) read to its end; its children are read next, so per-key order holds"},
	{"thr/s (consumers)", "reads refused per second: polling applications share each shard's 5 GetRecords calls/s and 2 MiB/s"},
	{"polling / fan-out", "GetRecords readers share a shard's read limits; each enhanced fan-out consumer gets its own 2 MiB/s per shard"},
	{"hot key", "one partition key carrying half a shard's write limit or more, counted in the feed; all its records go to one shard, so no split can spread it"},
	{"KPL", "aggregation: many user records packed into one Kinesis record; consumers unpack them"},
	{"engine +Nh", "a time-lapse (T, ctrl+t): the engine's clock runs N hours ahead, so records age and retention trims; rates and cost keep the wall clock"},
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
