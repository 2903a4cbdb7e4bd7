package ui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// feedPane shows the newest records of the watched stream, across its
// shards, from a bounded ring.
//
// Live, the newest record is at the bottom and selected. Pausing (or
// scrolling up) freezes a copy of what was shown; records keep arriving in
// the ring and are counted as "N new" until the feed resumes at the newest.
type feedPane struct {
	ctx  *Context
	w, h int

	all     *ring[feedRec] // every stream's records
	matched *ring[feedRec] // records of stream passing filter; nil when all pass
	stream  string         // the watched stream; "" keeps every stream
	filter  *recordFilter
	errText string // why the last filter was refused

	input   textinput.Model
	editing bool
	// history holds the filters applied, oldest first; ↑ and ↓ in the
	// input walk it, hist being the position (len(history) is the new one).
	history []string
	hist    int

	paused   bool
	frozen   []feedRec
	newCount int
	cursor   int // index into frozen while paused
	offset   int
	dropped  uint64

	// form is the replay form while open; run the replay the feed shows
	// instead of the live records (nil when live); gen numbers replays so
	// answers to a left one are dropped.
	form  *replayForm
	run   *replayRun
	gen   int
	asked int // the form's iterator requests, numbered
}

func newFeed(ctx *Context, capacity int) *feedPane {
	in := textinput.New()
	in.Prompt = "filter: "
	in.Placeholder = "text · re:regex or /regex/ · !inverts · ↑ earlier · empty clears"
	in.PromptStyle = ctx.Styles.Prompt
	in.TextStyle = ctx.Styles.Input
	in.PlaceholderStyle = ctx.Styles.Help.ShortDesc
	in.Cursor.SetMode(cursor.CursorStatic)
	in.CharLimit = 200
	return &feedPane{ctx: ctx, all: newRing[feedRec](capacity), input: in}
}

// feedRec is a record as the feed keeps it: with how far the engine's
// clock was ahead of the console's when it arrived (a time-lapse), so its
// time shows on the console's clock like everything else.
type feedRec struct {
	engine.TapRecord
	ahead time.Duration
}

// shownAt is the record's arrival on the console's clock.
func (r *feedRec) shownAt() time.Time { return r.ApproximateArrivalTimestamp.Add(-r.ahead) }

// SetSize sets the box size.
func (f *feedPane) SetSize(w, h int) {
	f.w, f.h = w, h
	f.input.Width = max(1, w-4-len(f.input.Prompt)-1)
	f.clamp()
}

// HelpKeys returns the keys that act on the feed.
func (f *feedPane) HelpKeys() []key.Binding {
	k := f.ctx.Keys
	return []key.Binding{withHelp(k.Up, "↑/↓", "scroll (pauses)"), k.PageUp, withHelp(k.Bottom, "G/end", "live"), k.Pause, k.Filter, k.Open, k.Copy, k.Replay}
}

// Editing reports whether the filter input or the replay form has the
// keyboard.
func (f *feedPane) Editing() bool { return f.editing || f.form != nil }

// Replaying reports whether the feed shows a replay.
func (f *feedPane) Replaying() bool { return f.run != nil }

// startReplay shows run's records instead of the live ones, following
// them as they are read.
func (f *feedPane) startReplay(run *replayRun) {
	f.run = run
	if f.filter != nil {
		run.matched = newRing[feedRec](run.recs.Cap())
	}
	f.paused, f.frozen, f.newCount = false, nil, 0
	f.ctx.Paused = false
	f.clamp()
}

// pushReplay adds a replayed record; it shows when it passes the filter.
func (f *feedPane) pushReplay(rec feedRec) {
	r := f.run
	r.recs.Push(rec)
	if r.matched != nil && !f.filter.match(&rec.TapRecord) {
		return
	}
	if r.matched != nil {
		r.matched.Push(rec)
	}
	if f.paused {
		f.newCount++
	}
}

// StopReplay returns to the live feed; the replay's pending reads are
// dropped when they answer.
func (f *feedPane) StopReplay() {
	f.run = nil
	f.gen++
	f.paused, f.frozen, f.newCount = false, nil, 0
	f.ctx.Paused = false
	f.clamp()
}

// Paused reports whether the feed is frozen.
func (f *feedPane) Paused() bool { return f.paused }

// Update takes new records on every tick and, while focused, keys.
func (f *feedPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		f.dropped = msg.Dropped
		for i := range msg.Records {
			r := &msg.Records[i]
			fr := feedRec{TapRecord: *r, ahead: f.ctx.Ahead}
			f.all.Push(fr)
			ok := f.keep(r)
			if ok && f.matched != nil {
				f.matched.Push(fr)
			}
			if ok && f.paused && f.run == nil {
				f.newCount++
			}
		}
		f.clamp()
		return nil
	case tea.KeyMsg:
		if f.editing {
			return f.editKey(msg)
		}
		k := f.ctx.Keys
		switch {
		case key.Matches(msg, k.Up):
			f.scroll(-1)
		case key.Matches(msg, k.Down):
			f.scroll(1)
		case key.Matches(msg, k.PageUp):
			f.scroll(-f.visible())
		case key.Matches(msg, k.PageDown):
			f.scroll(f.visible())
		case key.Matches(msg, k.Top):
			f.scroll(-f.n())
		case key.Matches(msg, k.Bottom):
			f.Resume()
		case key.Matches(msg, k.Copy):
			if r, ok := f.Selected(); ok {
				return copyRecord(f.ctx.copy, r)
			}
			return flash("nothing to copy: the feed is empty", true)
		}
		return nil
	}
	if f.editing {
		var cmd tea.Cmd
		f.input, cmd = f.input.Update(msg)
		return cmd
	}
	return nil
}

// editKey handles a key while the filter input is open: enter applies,
// esc cancels, everything else edits.
func (f *feedPane) editKey(msg tea.KeyMsg) tea.Cmd {
	k := f.ctx.Keys
	switch {
	case key.Matches(msg, k.Open):
		f.apply(f.input.Value())
		f.editing = false
		f.input.Blur()
		return nil
	case key.Matches(msg, k.Close):
		f.editing = false
		f.input.Blur()
		return nil
	case msg.Type == tea.KeyUp, msg.Type == tea.KeyDown:
		// Only the arrows: k and j are letters of a filter.
		if msg.Type == tea.KeyUp {
			f.hist = max(0, f.hist-1)
		} else {
			f.hist = min(len(f.history), f.hist+1)
		}
		if f.hist < len(f.history) {
			f.input.SetValue(f.history[f.hist])
		} else {
			f.input.SetValue("")
		}
		f.input.CursorEnd()
		return nil
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	return cmd
}

// StartFilter opens the filter input empty; ↑ recalls earlier filters.
func (f *feedPane) StartFilter() tea.Cmd {
	f.editing = true
	f.input.SetValue("")
	f.hist = len(f.history)
	return f.input.Focus()
}

// Filtered reports whether a filter is applied.
func (f *feedPane) Filtered() bool { return f.filter != nil }

// ClearFilter removes the applied filter.
func (f *feedPane) ClearFilter() { f.apply("") }

// apply installs a filter; an invalid one keeps the old filter and says
// why in the title. An empty one clears the filter.
func (f *feedPane) apply(text string) {
	if strings.TrimSpace(text) == "" {
		f.filter, f.errText = nil, ""
		f.rematch()
		return
	}
	nf, err := parseFilter(text)
	if err != nil {
		f.errText = err.Error()
		return
	}
	f.filter, f.errText = nf, ""
	if n := len(f.history); n == 0 || f.history[n-1] != text {
		f.history = append(f.history, text)
		if len(f.history) > 50 {
			f.history = f.history[1:]
		}
	}
	f.rematch()
}

// SetStream shows only the records of the named stream from now on,
// those already in the ring included; "" shows every stream.
func (f *feedPane) SetStream(name string) {
	if name == f.stream {
		return
	}
	f.stream = name
	f.rematch()
}

// keep reports whether the feed shows r: a record of the watched stream
// (or of no stream) that passes the filter.
func (f *feedPane) keep(r *engine.TapRecord) bool {
	if f.stream != "" && r.Stream != "" && r.Stream != f.stream {
		return false
	}
	return f.filter == nil || f.filter.match(r)
}

// rematch rebuilds the shown records from the ring after the filter or
// the stream changed. Without either, the ring itself is shown.
func (f *feedPane) rematch() {
	if r := f.run; r != nil {
		r.matched = nil
		if f.filter != nil {
			r.matched = newRing[feedRec](r.recs.Cap())
			for i := 0; i < r.recs.Len(); i++ {
				if rec := r.recs.At(i); f.filter.match(&rec.TapRecord) {
					r.matched.Push(*rec)
				}
			}
		}
	}
	if f.filter == nil && f.stream == "" {
		f.matched = nil
		f.refreeze()
		return
	}
	if f.matched == nil {
		f.matched = newRing[feedRec](f.all.Cap())
	} else {
		f.matched.Reset()
	}
	for i := 0; i < f.all.Len(); i++ {
		if r := f.all.At(i); f.keep(&r.TapRecord) {
			f.matched.Push(*r)
		}
	}
	f.refreeze()
}

// refreeze retakes the frozen copy after the filter changed while paused.
func (f *feedPane) refreeze() {
	if f.paused {
		f.freeze()
	}
	f.clamp()
}

// source is the live list the feed shows: the filtered ring or all.
func (f *feedPane) source() *ring[feedRec] {
	if f.run != nil {
		if f.run.matched != nil {
			return f.run.matched
		}
		return f.run.recs
	}
	if f.matched != nil {
		return f.matched
	}
	return f.all
}

func (f *feedPane) freeze() {
	f.frozen = f.source().Slice()
	f.cursor = len(f.frozen) - 1
	f.newCount = 0
	f.paused = true
	f.ctx.Paused = true
}

// TogglePause freezes or resumes the feed; resuming jumps to the newest.
func (f *feedPane) TogglePause() {
	if f.paused {
		f.paused, f.frozen, f.newCount = false, nil, 0
		f.ctx.Paused = false
		f.clamp()
		return
	}
	f.freeze()
	f.clamp()
}

// scroll moves the selection; moving while live pauses first, and moving
// down past the newest record resumes the live feed.
func (f *feedPane) scroll(d int) {
	if !f.paused {
		if d > 0 {
			return // already at the newest
		}
		f.freeze()
	}
	if d > 0 && f.cursor >= len(f.frozen)-1 {
		f.Resume()
		return
	}
	f.cursor = max(0, min(len(f.frozen)-1, f.cursor+d))
	f.clamp()
}

// clickLine selects the record on line row of the box, pausing the feed.
func (f *feedPane) clickLine(row int) {
	i := f.offset + row
	if row < 0 || i >= f.n() {
		return
	}
	if !f.paused {
		f.freeze()
	}
	f.cursor = i
	f.clamp()
}

// Resume returns to the live feed at the newest record.
func (f *feedPane) Resume() {
	if f.paused {
		f.TogglePause()
	}
}

// n and at read the list on screen: frozen while paused, live otherwise.
func (f *feedPane) n() int {
	if f.paused {
		return len(f.frozen)
	}
	return f.source().Len()
}

func (f *feedPane) at(i int) *feedRec {
	if f.paused {
		return &f.frozen[i]
	}
	return f.source().At(i)
}

// Selected returns the selected record: the newest while live.
func (f *feedPane) Selected() (engine.TapRecord, bool) {
	r, ok := f.selected()
	return r.TapRecord, ok
}

func (f *feedPane) selected() (feedRec, bool) {
	n := f.n()
	if n == 0 {
		return feedRec{}, false
	}
	i := n - 1
	if f.paused {
		i = max(0, min(n-1, f.cursor))
	}
	return *f.at(i), true
}

func (f *feedPane) visible() int {
	v := f.h - 2
	if f.editing || f.run != nil {
		v-- // the input, or the replay's state line
	}
	return max(1, v)
}

func (f *feedPane) clamp() {
	n, vis := f.n(), f.visible()
	if !f.paused {
		f.offset = max(0, n-vis)
		return
	}
	if f.cursor < f.offset {
		f.offset = f.cursor
	}
	if f.cursor >= f.offset+vis {
		f.offset = f.cursor - vis + 1
	}
	f.offset = max(0, min(f.offset, n-vis))
}

// title carries the feed's state: live or paused, new records, the
// filter, a refused filter and drops.
func (f *feedPane) title() string {
	var b strings.Builder
	if f.run != nil {
		b.WriteString(f.run.title(f.w < 100))
		if f.filter != nil {
			b.WriteString(" · filter: " + f.filter.raw)
		}
		if f.paused {
			b.WriteString(" · ⏸ " + commas(int64(f.newCount)) + " new")
		}
		return b.String()
	}
	b.WriteString("Feed  ")
	if f.paused {
		b.WriteString("⏸ paused · " + commas(int64(f.newCount)) + " new")
	} else {
		b.WriteString("● live")
	}
	if f.filter != nil {
		b.WriteString(" · filter: " + f.filter.raw)
	}
	if f.errText != "" {
		b.WriteString(" · ⚠ " + f.errText)
	}
	if f.dropped > 0 {
		b.WriteString(" · " + commas(int64(f.dropped)) + " dropped")
	}
	if a := f.ctx.Ahead; a > 0 {
		b.WriteString(" · your clock; engine " + lapse(a))
	}
	// In the compact layout the other panes hide behind tab: say so while
	// there is room.
	hint := " ─ [tab: producers · consumers · events]"
	if f.ctx.Mid {
		hint = " ─ [tab: consumers]"
		if len(f.ctx.Around) > 0 {
			hint = " ─ [tab: consumers · around]"
		}
	}
	if (f.ctx.Compact || f.ctx.Mid) && width(b.String())+width(hint) <= f.w-6 {
		b.WriteString(hint)
	}
	return b.String()
}

// View renders the feed box.
func (f *feedPane) View() string {
	c, st := f.ctx, f.ctx.Styles
	focused := c.Focus == paneFeed
	if f.form != nil {
		title, lines := f.form.view(f.w - 4)
		return box(st, title, lines, f.w, f.h, true)
	}
	vis := f.visible()
	lines := make([]string, 0, vis+1)
	n := f.n()
	if n == 0 {
		msg := "waiting for records…"
		switch {
		case f.run != nil && f.run.calls == 0:
			msg = "GetRecords…"
		case f.run != nil:
			msg = "no records read yet: the shard holds none from there"
		case f.filter != nil:
			msg = "no records match the filter yet"
		case f.all.Len() > 0 && f.stream != "":
			msg = "no records on stream " + f.stream + " yet (the feed shows the watched stream only)"
		}
		lines = append(lines, st.Faint.S(msg))
	}
	cw := f.w - 4
	sel := -1
	if focused {
		sel = n - 1
		if f.paused {
			sel = f.cursor
		}
	}
	for i := f.offset; i < n && i < f.offset+vis; i++ {
		lines = append(lines, f.line(f.at(i), cw, i == sel))
	}
	if f.editing || f.run != nil {
		for len(lines) < vis {
			lines = append(lines, "")
		}
		if f.editing {
			lines = append(lines, f.input.View())
		} else {
			state := f.run.state(f.w < 100)
			if f.run.errText != "" || f.run.throttled > 0 {
				state = st.Warn.S(cut(state, cw))
			} else {
				state = st.Faint.S(cut(state, cw))
			}
			lines = append(lines, state)
		}
	}
	return box(st, f.title(), lines, f.w, f.h, focused)
}

// line renders one record in fixed columns; the data preview takes the rest.
func (f *feedPane) line(r *feedRec, cw int, selected bool) string {
	st := f.ctx.Styles
	var b strings.Builder
	b.Grow(cw * 2)
	if selected {
		b.WriteString(st.Accent.S("▸ "))
	} else {
		b.WriteString("  ")
	}
	b.WriteString(st.Faint.S(r.shownAt().Format("15:04:05.000")))
	used := 2 + 12
	if cw >= 90 {
		// Full shard IDs only when the data keeps room to be read.
		id, idW := shortShard(r.ShardID), 12
		if cw < 130 {
			id, idW = tinyShard(r.ShardID, 6), 7
		}
		b.WriteString("  " + fit(id, idW))
		b.WriteString("  " + st.Faint.S(fit(shortSeq(r.SequenceNumber), 7)))
		pk := fit(clean(r.PartitionKey, 16), 16)
		if selected {
			pk = st.Bold.S(pk)
		}
		b.WriteString("  " + pk)
		b.WriteString("  " + fitRight(size(len(r.Data)), 8))
		used += 2 + idW + 2 + 7 + 2 + 16 + 2 + 8
	} else {
		b.WriteString(" " + fit(tinyShard(r.ShardID, 3), 4))
		pk := fit(clean(r.PartitionKey, 12), 12)
		if selected {
			pk = st.Bold.S(pk)
		}
		b.WriteString(" " + pk)
		used += 1 + 4 + 1 + 12
	}
	rest := cw - used - 2
	if rest > 0 {
		b.WriteString("  " + fit(preview(r.Data, rest), rest))
	}
	return b.String()
}
