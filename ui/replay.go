package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// Replay (the i key): the feed re-reads one shard from a starting position
// with GetShardIterator and GetRecords, as any polling consumer would, so
// the five iterator types can be seen at work. The reads share the shard's
// limits with the consumers; a throttled read shows in the feed's title and
// is tried again a second later.

// Replay pacing: a GetRecords call every replayBusy while the replay is
// behind the newest record, every replayIdle once it caught up (as a KCL
// worker polls), at most replayLimit records a call.
const (
	replayBusy  = 500 * time.Millisecond
	replayIdle  = time.Second
	replayLimit = 500
)

// replayTypes are the iterator types in the order the form lists them.
var replayTypes = []struct {
	typ  engine.IteratorType
	desc string
}{
	{engine.TrimHorizon, "from the oldest record still held"},
	{engine.Latest, "only records written from now on"},
	{engine.AtSequenceNumber, "from the record with this sequence number"},
	{engine.AfterSequenceNumber, "from the record after this one"},
	{engine.AtTimestamp, "from the first record that arrived at or after a time"},
}

// replayForm chooses where a replay starts: the shard (tab cycles the
// stream's shards), the iterator type and, for three of them, a sequence
// number or a time.
type replayForm struct {
	ctx    *Context
	shards []string
	si     int
	typ    int
	input  textinput.Model
	// seqs are the sequence numbers to prefill, by shard: the record
	// selected in the feed.
	seqs map[string]string
	// auto is what the form put in the input itself, so it may replace it.
	auto    string
	errText string
	asking  bool // the iterator was asked for, with request number ask
	ask     int
}

func newReplayForm(ctx *Context, shards []string, at int, seqs map[string]string) *replayForm {
	in := textinput.New()
	in.PromptStyle = ctx.Styles.Prompt
	in.TextStyle = ctx.Styles.Input
	in.PlaceholderStyle = ctx.Styles.Help.ShortDesc
	in.Cursor.SetMode(cursor.CursorStatic)
	in.CharLimit = 130
	f := &replayForm{ctx: ctx, shards: shards, si: at, input: in, seqs: seqs}
	f.input.Focus()
	f.refill()
	return f
}

func (f *replayForm) shard() string { return f.shards[f.si] }
func (f *replayForm) kind() engine.IteratorType {
	return replayTypes[f.typ].typ
}

// refill sets the input's prompt for the type and prefills a sequence
// number unless the user typed something of their own.
func (f *replayForm) refill() {
	switch f.kind() {
	case engine.AtSequenceNumber, engine.AfterSequenceNumber:
		f.input.Prompt = "sequence number: "
		f.input.Placeholder = "select a record in the feed to prefill"
		if v := f.input.Value(); v == "" || v == f.auto {
			f.auto = f.seqs[f.shard()]
			f.input.SetValue(f.auto)
			f.input.CursorEnd()
		}
	case engine.AtTimestamp:
		f.input.Prompt = "time: "
		f.input.Placeholder = "-10m · 15:04:05 · 2006-01-02T15:04:05Z (your clock)"
		if f.input.Value() == f.auto {
			f.auto = ""
			f.input.SetValue("")
		}
	default:
		f.input.Prompt = ""
	}
}

// needsInput reports whether the chosen type takes a value.
func (f *replayForm) needsInput() bool {
	t := f.kind()
	return t == engine.AtSequenceNumber || t == engine.AfterSequenceNumber || t == engine.AtTimestamp
}

// key handles a key other than enter and esc.
func (f *replayForm) key(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyUp:
		f.typ = (f.typ + len(replayTypes) - 1) % len(replayTypes)
		f.errText = ""
		f.refill()
		return nil
	case tea.KeyDown:
		f.typ = (f.typ + 1) % len(replayTypes)
		f.errText = ""
		f.refill()
		return nil
	case tea.KeyTab, tea.KeyShiftTab:
		step := 1
		if msg.Type == tea.KeyShiftTab {
			step = len(f.shards) - 1
		}
		f.si = (f.si + step) % len(f.shards)
		f.errText = ""
		f.refill()
		return nil
	}
	if !f.needsInput() {
		return nil
	}
	var cmd tea.Cmd
	f.input, cmd = f.input.Update(msg)
	return cmd
}

// position turns the form into a starting position on the engine's clock
// and a label for the feed's title; a time that does not parse is refused
// here, everything else by the backend.
func (f *replayForm) position() (engine.StartingPosition, string, error) {
	p := engine.StartingPosition{Type: f.kind()}
	v := strings.TrimSpace(f.input.Value())
	switch p.Type {
	case engine.AtSequenceNumber, engine.AfterSequenceNumber:
		if v == "" {
			return p, "", errors.New("type a sequence number (select a record of this shard in the feed to prefill it)")
		}
		// The remote feed shows a KPL user record as "<seq>/<sub>".
		v, _, _ = strings.Cut(v, "/")
		p.SequenceNumber = v
		return p, string(p.Type) + " " + shortSeq(v), nil
	case engine.AtTimestamp:
		c := f.ctx
		t, err := parseReplayTime(v, c.Now(), c.Ahead)
		if err != nil {
			return p, "", err
		}
		p.Timestamp = t
		label := string(p.Type) + " " + t.Add(-c.Ahead).Format("15:04:05")
		if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
			label += " (" + v + ")"
		}
		if c.Ahead > 0 {
			label += " · engine " + t.Format("15:04:05")
		}
		return p, label, nil
	}
	return p, string(p.Type), nil
}

// parseReplayTime reads an AT_TIMESTAMP value and returns it on the
// engine's clock, which runs ahead of the console's by ahead (a
// time-lapse): a duration such as -10m counts from the engine's now, a
// time of day (15:04:05, as the feed shows) or an RFC 3339 time is on the
// console's clock, as every time on screen is.
func parseReplayTime(v string, now time.Time, ahead time.Duration) (time.Time, error) {
	const how = "RFC 3339 (2006-01-02T15:04:05Z), a time of day (15:04:05) or a duration back (-10m)"
	if v == "" {
		return time.Time{}, errors.New("type a time: " + how)
	}
	if v[0] == '-' || v[0] == '+' {
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a duration: %s", v, how)
		}
		return now.Add(ahead).Add(d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Add(ahead), nil
		}
	}
	for _, layout := range []string{"15:04:05.000", "15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, v, now.Location()); err == nil {
			y, m, d := now.Date()
			day := time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), now.Location())
			return day.Add(ahead), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: %s", v, how)
}

// view renders the form as the feed's box content.
func (f *replayForm) view(w int) (title string, lines []string) {
	st := f.ctx.Styles
	title = "Replay shard " + shortShard(f.shard())
	if len(f.shards) > 1 {
		title += " (tab: " + strconv.Itoa(f.si+1) + " of " + strconv.Itoa(len(f.shards)) + ")"
	}
	for i, t := range replayTypes {
		name := fit(string(t.typ), 22)
		mark := "  "
		if i == f.typ {
			mark, name = st.Accent.S("▸ "), st.Bold.S(name)
		}
		lines = append(lines, mark+name+" "+st.Faint.S(cut(t.desc, max(0, w-25))))
	}
	lines = append(lines, "")
	if f.needsInput() {
		f.input.Width = max(1, w-width(f.input.Prompt)-1)
		lines = append(lines, f.input.View())
	}
	if f.errText != "" {
		lines = append(lines, st.Danger.S(cut("⚠ "+f.errText, w)))
	}
	if f.asking {
		lines = append(lines, st.Faint.S("GetShardIterator…"))
	} else {
		lines = append(lines, st.Faint.S(cut("↑↓ iterator type · tab shard · enter read · esc cancel", w)))
	}
	return title, lines
}

// replayRun is a replay under way: what it reads, what it read, and where
// it stands.
type replayRun struct {
	gen           int
	stream, shard string
	from          engine.StartingPosition
	label         string
	recs          *ring[feedRec]
	matched       *ring[feedRec] // recs passing the feed's filter; nil without one
	iter          string
	read          int64
	calls         int64
	throttled     int64
	behind        int64
	caughtUp      bool
	end           bool
	children      []string
	errText       string
	lastSeq       string // of the newest record read, to resume after an expired iterator
}

// title names the replay: shard, iterator type and starting point, and
// how many records it read; short cuts the shard ID.
func (r *replayRun) title(short bool) string {
	id := shortShard(r.shard)
	if short {
		id = tinyShard(r.shard, 6)
	}
	return "Replay " + id + " from " + r.label + " · " + commas(r.read) + " read"
}

// state is the line under the replayed records: throttling, where the
// reading stands, and the way back.
func (r *replayRun) state(short bool) string {
	var parts []string
	calls := plural(int(r.calls), "GetRecords call")
	if short {
		calls = plural(int(r.calls), "call")
	}
	if r.throttled > 0 {
		calls += ", " + commas(r.throttled) + " throttled"
	}
	parts = append(parts, calls)
	switch {
	case r.errText != "":
		parts = append(parts, "⚠ "+r.errText)
	case r.end:
		end := "SHARD_END"
		if len(r.children) > 0 {
			ids := make([]string, len(r.children))
			for i, c := range r.children {
				ids[i] = shortShard(c)
				if short {
					ids[i] = tinyShard(c, 6)
				}
			}
			if short {
				end += " → " + strings.Join(ids, ", ") + " · i: a child"
			} else {
				end += " → children " + strings.Join(ids, ", ") + " (i: replay a child)"
			}
		}
		parts = append(parts, end)
	case r.caughtUp:
		parts = append(parts, "at the newest record")
	case r.calls > 0:
		parts = append(parts, strconv.FormatFloat(float64(r.behind)/1000, 'f', 1, 64)+" s behind the newest")
	}
	if short {
		parts = append(parts, "esc: live")
	} else {
		parts = append(parts, "esc: live feed")
	}
	return strings.Join(parts, " · ")
}

// Replay messages carry the run's generation: answers to a replay the user
// left (esc, or a new one) are dropped.
type replayIterMsg struct {
	gen   int
	iter  string
	err   error
	label string
	from  engine.StartingPosition
	shard string
	// resume is set when the iterator replaces an expired one.
	resume bool
}

type replayPageMsg struct {
	gen  int
	page ReplayPage
	err  error
}

// replayIterator asks the backend for an iterator off the UI goroutine.
func replayIterator(r Replayer, gen int, stream, shard string, from engine.StartingPosition, label string, resume bool) tea.Cmd {
	return func() tea.Msg {
		it, err := r.ShardIterator(stream, shard, from)
		return replayIterMsg{gen: gen, iter: it, err: err, label: label, from: from, shard: shard, resume: resume}
	}
}

// replayRead calls GetRecords after a pause.
func replayRead(r Replayer, gen int, stream, shard, iter string, after time.Duration) tea.Cmd {
	read := func() tea.Msg {
		p, err := r.ReadShard(stream, shard, iter, replayLimit)
		return replayPageMsg{gen: gen, page: p, err: err}
	}
	if after <= 0 {
		return read
	}
	return tea.Tick(after, func(time.Time) tea.Msg { return read() })
}

// openReplay opens the replay form on the selected shard (or the shard of
// the record selected in a focused feed; at SHARD_END, the first child).
func (m *Model) openReplay() tea.Cmd {
	if _, ok := m.b.(Replayer); !ok {
		return flash("this backend cannot replay a shard", true)
	}
	c := m.ctx
	if c.Stream == nil || len(c.Stream.Shards) == 0 {
		return flash("no shard to replay", true)
	}
	var ids []string
	for _, i := range m.shards.order {
		ids = append(ids, c.Stream.Shards[i].ShardID)
	}
	want := ""
	if sh, ok := m.shards.Selected(); ok {
		want = sh.ShardID
	}
	seqs := map[string]string{}
	if r, ok := m.feed.selected(); ok {
		seqs[r.ShardID] = r.SequenceNumber
		if c.Focus == paneFeed && m.feed.paused {
			want = r.ShardID
		}
	}
	if run := m.feed.run; run != nil && run.end && len(run.children) > 0 {
		want = run.children[0]
	}
	at := 0
	for i, id := range ids {
		if id == want {
			at = i
		}
	}
	m.feed.form = newReplayForm(c, ids, at, seqs)
	c.Focus = paneFeed
	return nil
}

// onReplayKey handles a key while the replay form is open.
func (m *Model) onReplayKey(msg tea.KeyMsg) tea.Cmd {
	f, k := m.feed.form, m.ctx.Keys
	switch {
	case key.Matches(msg, k.Close):
		m.feed.form = nil // an iterator on its way is dropped; a replay under way goes on
		return nil
	case msg.Type == tea.KeyEnter:
		if f.asking {
			return nil
		}
		from, label, err := f.position()
		if err != nil {
			f.errText = err.Error()
			return nil
		}
		m.feed.asked++
		f.errText, f.asking, f.ask = "", true, m.feed.asked
		return replayIterator(m.b.(Replayer), f.ask, m.ctx.StreamName, f.shard(), from, label, false)
	}
	return f.key(msg)
}

// onReplayIter starts the replay once its iterator came, or shows why it
// was refused in the form, changing nothing else.
func (m *Model) onReplayIter(msg replayIterMsg) tea.Cmd {
	f := m.feed
	if msg.resume {
		if f.run == nil || msg.gen != f.run.gen || msg.gen != f.gen {
			return nil
		}
		if msg.err != nil {
			f.run.errText = msg.err.Error()
			return nil
		}
		f.run.iter = msg.iter
		return replayRead(m.b.(Replayer), f.gen, f.run.stream, f.run.shard, msg.iter, 0)
	}
	// The form's request: dropped when the form was closed meanwhile.
	if f.form == nil || !f.form.asking || msg.gen != f.form.ask {
		return nil
	}
	if msg.err != nil {
		f.form.asking = false
		f.form.errText = msg.err.Error()
		m.report("replay", "replay refused: "+msg.err.Error(), true)
		return nil
	}
	f.form = nil
	f.gen++ // the replay under way, if any, stops
	f.startReplay(&replayRun{gen: f.gen, stream: m.ctx.StreamName, shard: msg.shard, from: msg.from, label: msg.label,
		recs: newRing[feedRec](f.all.Cap()), iter: msg.iter})
	m.events.Add(eventLine{At: m.ctx.Now(), Kind: "replay", Text: "replaying " + msg.shard + " from " + msg.label + " with GetRecords (it shares the shard's 5 reads/s with the consumers)"})
	return replayRead(m.b.(Replayer), f.gen, m.ctx.StreamName, msg.shard, msg.iter, 0)
}

// onReplayPage takes one GetRecords answer and schedules the next call.
func (m *Model) onReplayPage(msg replayPageMsg) tea.Cmd {
	f := m.feed
	r := f.run
	if r == nil || msg.gen != r.gen || msg.gen != f.gen {
		return nil
	}
	rp := m.b.(Replayer)
	switch {
	case engine.IsCode(msg.err, engine.ProvisionedThroughputExceededException):
		r.calls++
		r.throttled++
		if r.throttled == 1 || r.throttled%10 == 0 {
			m.events.Add(eventLine{At: m.ctx.Now(), Kind: "replay", Bad: true,
				Text: "replay read throttled on " + r.shard + " (" + commas(r.throttled) + "×): it shares the shard's 5 reads/s and 2 MiB/s with the consumers; trying again in 1 s"})
		}
		return m.replayNext(r, replayIdle, true)
	case engine.IsCode(msg.err, engine.ExpiredIteratorException):
		from := r.from
		if r.lastSeq != "" {
			from = engine.StartingPosition{Type: engine.AfterSequenceNumber, SequenceNumber: r.lastSeq}
		}
		return replayIterator(rp, r.gen, r.stream, r.shard, from, r.label, true)
	case msg.err != nil:
		r.errText = msg.err.Error()
		m.report("replay", "replay stopped: "+msg.err.Error(), true)
		return nil
	}
	p := msg.page
	r.calls++
	r.behind = p.MillisBehind
	for i := range p.Records {
		f.pushReplay(feedRec{TapRecord: p.Records[i], ahead: m.ctx.Ahead})
	}
	if n := len(p.Records); n > 0 {
		r.read += int64(n)
		r.lastSeq = p.Records[n-1].SequenceNumber
	}
	f.clamp()
	if p.Next == "" {
		r.end, r.children = true, p.Children
		text := "replay of " + r.shard + " reached SHARD_END after " + commas(r.read) + " records"
		if len(p.Children) > 0 {
			text += "; its children " + strings.Join(p.Children, ", ") + " continue it (i replays one)"
		}
		m.events.Add(eventLine{At: m.ctx.Now(), Kind: "replay", Text: text})
		return nil
	}
	r.iter = p.Next
	r.caughtUp = p.MillisBehind == 0 && len(p.Records) < replayLimit
	if r.caughtUp {
		return m.replayNext(r, replayIdle, false)
	}
	return m.replayNext(r, replayBusy, true)
}

// replayNext schedules the next read after d. A console without a tick
// (tests drive it by hand) reads at once while there is more to read and
// stops polling at the newest record.
func (m *Model) replayNext(r *replayRun, d time.Duration, more bool) tea.Cmd {
	if m.opts.TickInterval == 0 {
		if !more {
			return nil
		}
		d = 0
	}
	return replayRead(m.b.(Replayer), r.gen, r.stream, r.shard, r.iter, d)
}
