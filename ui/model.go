package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// Minimum terminal size; below it the console says so instead of drawing.
const (
	MinWidth  = 60
	MinHeight = 16
)

// wideWidth is the width from which producers and consumers get a column
// of their own beside shards and feed, and events a row across the bottom.
const (
	wideWidth  = 140
	wideHeight = 30
)

// midWidth and midHeight are where the compact layout has rows to spare:
// events and producers then get a row of their own under the feed
// instead of a taller feed.
const (
	midWidth  = 100
	midHeight = 34
)

// flashFor is how long a message stays on the status line.
const flashFor = 6 * time.Second

// Model is the console's root Bubble Tea model. It lays the panes out and
// routes messages; the panes do the rest.
type Model struct {
	b    Backend
	opts Options
	ctx  *Context

	header    *headerPane
	shards    *shardsPane
	feed      *feedPane
	producers *producersPane
	consumers *consumersPane
	around    *aroundPane
	events    *eventsPane
	cost      *costPane
	help      *helpView
	detail    *detailView // nil unless a record is open
	hot       *hotKeys

	showHelp bool
	lay      layout
	// pinned is set once the user picks a stream with w: the console then
	// stops following Options.Stream.
	pinned bool

	nextID  int
	pending map[int]string // running actions by ID
	spin    spinner.Model

	flashText  string
	flashBad   bool
	flashUntil time.Time
}

// layout is where the panes go, from the window size and the number of
// shards and producers.
type layout struct {
	tooSmall bool
	wide     bool
	mid      bool // compact with events and producers in a bottom row
	bodyH    int
	leftW    int
	rightW   int
	topH     int // shards (and producers when wide)
	midH     int // feed (and consumers and cost when wide); the slot when compact
	costH    int // the cost box under consumers when wide; 0 when it does not fit
	evH      int // the events row when wide; the bottom row when mid
	shardRow int // rows the layout was made for
	prodRows int
}

// New returns the console's model over b. It does not touch the backend:
// the first reading happens in Init's command.
func New(b Backend, opts Options) Model {
	opts = opts.withDefaults()
	keys := DefaultKeyMap()
	styles := NewStyles(DefaultTheme)
	ctx := &Context{
		Styles:     styles,
		Keys:       &keys,
		Now:        opts.Clock,
		Started:    opts.Clock(),
		At:         opts.Clock(),
		StreamName: opts.Stream,
		Preferred:  opts.Stream,
		Endpoint:   opts.Endpoint,
		Focus:      paneShards,
		copy:       opts.Copy,
	}
	m := Model{
		b:         b,
		opts:      opts,
		ctx:       ctx,
		header:    newHeader(ctx),
		shards:    newShards(ctx),
		feed:      newFeed(ctx, opts.FeedCapacity),
		producers: newProducers(ctx),
		consumers: newConsumers(ctx),
		around:    newAround(ctx),
		events:    newEvents(ctx),
		cost:      newCost(ctx),
		help:      newHelpView(ctx),
		hot:       &hotKeys{},
		pending:   map[int]string{},
		spin:      spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(styles.Spinner)),
	}
	m.feed.SetStream(opts.Stream)
	m.resize(80, 24)
	return m
}

// Init starts the first reading of the backend.
func (m Model) Init() tea.Cmd { return m.poll() }

// poll reads the backend now, in the command's goroutine.
func (m Model) poll() tea.Cmd {
	b := m.b
	return func() tea.Msg { return read(b) }
}

// tick reads the backend after one tick interval.
func (m Model) tick() tea.Cmd {
	if m.opts.TickInterval <= 0 {
		return nil
	}
	b := m.b
	return tea.Tick(m.opts.TickInterval, func(time.Time) tea.Msg { return read(b) })
}

func read(b Backend) dataMsg {
	var at *Attachment
	if a, ok := b.(Attached); ok {
		v := a.Attachment()
		at = &v
	}
	var around []AroundView
	if r, ok := b.(AroundReporter); ok {
		around = r.Around()
	}
	return dataMsg{
		Around:    around,
		Attach:    at,
		Snap:      b.Snapshot(),
		Records:   b.DrainFeed(nil),
		Dropped:   b.FeedDropped(),
		Producers: b.Producers(),
		Consumers: b.Consumers(),
		tick:      true,
	}
}

// panes returns the focusable panes by ID.
func (m Model) pane(id paneID) pane {
	switch id {
	case paneShards:
		return m.shards
	case paneFeed:
		return m.feed
	case paneProducers:
		return m.producers
	case paneConsumers:
		return m.consumers
	case paneAround:
		return m.around
	}
	return m.events
}

// Update routes a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case dataMsg:
		return m, m.onData(msg)
	case actionDoneMsg:
		delete(m.pending, msg.ID)
		if name, ok := strings.CutPrefix(msg.Label, "remove "); ok && msg.Err != nil {
			m.consumers.markRemoving(name, false) // still there: A may pick it again
		}
		if msg.Err != nil {
			m.report("error", msg.Err.Error(), true)
		} else {
			m.report("action", msg.Text, false)
		}
		return m, nil
	case copyDoneMsg:
		if msg.Err != nil {
			m.report("error", "copy failed: "+msg.Err.Error(), true)
		} else {
			what := "copied " + commas(int64(msg.Bytes)) + " bytes (OSC 52)"
			if msg.Hex {
				what = "copied " + commas(int64(msg.Bytes)) + " bytes of hex (OSC 52; the data is not UTF-8)"
			}
			m.report("copy", what, false)
		}
		return m, nil
	case flashMsg:
		m.setFlash(msg.Text, msg.Bad)
		return m, nil
	case replayIterMsg:
		return m, m.onReplayIter(msg)
	case replayPageMsg:
		return m, m.onReplayPage(msg)
	case tea.KeyMsg:
		return m.onKey(msg)
	case tea.MouseMsg:
		return m, m.onMouse(msg)
	}
	// anything else (the text input's cursor) belongs to the feed
	return m, m.feed.Update(msg)
}

// onData takes one tick's reading: context first, then every pane.
func (m *Model) onData(msg dataMsg) tea.Cmd {
	c := m.ctx
	c.Snap = msg.Snap
	c.Producers, c.Consumers = msg.Producers, msg.Consumers
	hadAround := len(c.Around) > 0
	c.Around = msg.Around
	c.Attach = msg.Attach
	c.At = c.Now()
	c.Ahead = 0
	if !c.Snap.At.IsZero() {
		if a := c.Snap.At.Sub(c.At).Round(time.Minute); a > 0 {
			c.Ahead = a
		}
	}
	c.Ticks++
	news := m.followStream()
	for _, p := range []pane{m.shards, m.feed, m.producers, m.consumers, m.events} {
		p.Update(msg)
	}
	if news != "" {
		m.events.Add(eventLine{At: c.Now(), Kind: "watch", Text: news})
	}
	for _, text := range m.hot.observe(msg.Records, c.StreamName, c.At) {
		m.events.Add(eventLine{At: c.At, Kind: "hot key", Text: text})
	}
	if hadAround != (len(c.Around) > 0) && c.Focus == paneAround {
		c.Focus = paneShards
	}
	if m.shardRows() != m.lay.shardRow || m.prodRows() != m.lay.prodRows || hadAround != (len(c.Around) > 0) {
		m.resize(c.Width, c.Height)
	}
	if len(m.pending) > 0 {
		m.spin, _ = m.spin.Update(m.spin.Tick())
	}
	if m.flashText != "" && c.Now().After(m.flashUntil) {
		m.flashText = ""
	}
	if msg.tick {
		return m.tick()
	}
	return nil
}

// report adds an outcome to the events pane and the status line.
func (m *Model) report(kind, text string, bad bool) {
	m.events.Add(eventLine{At: m.ctx.Now(), Kind: kind, Text: text, Bad: bad})
	m.setFlash(text, bad)
}

func (m *Model) setFlash(text string, bad bool) {
	m.flashText, m.flashBad, m.flashUntil = text, bad, m.ctx.Now().Add(flashFor)
}

// onKey routes a key: a focused text input first, then the open overlay,
// then global keys, then the focused pane.
func (m Model) onKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.ctx.Keys
	// Bubble Tea v1 delivers printable characters that arrive together
	// (fast typing, SSH, tmux send-keys) as one message: "S+" or "/err".
	// Outside a text input each is a key of its own.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !m.feed.Editing() {
		var cmds []tea.Cmd
		var next tea.Model = m
		for _, r := range msg.Runes {
			one := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}
			if r == ' ' {
				one.Type = tea.KeySpace
			}
			var cmd tea.Cmd
			next, cmd = next.(Model).onKey(one)
			cmds = append(cmds, cmd)
		}
		return next, tea.Batch(cmds...)
	}
	if key.Matches(msg, k.ForceQuit) {
		return m, tea.Quit
	}
	if m.feed.form != nil {
		return m, m.onReplayKey(msg)
	}
	if m.feed.Editing() {
		return m, m.feed.Update(msg)
	}
	// q closes an overlay, as esc does: quitting from a view one opened
	// to read surprises.
	if m.showHelp {
		switch {
		case key.Matches(msg, k.Help), key.Matches(msg, k.Close), key.Matches(msg, k.Quit):
			m.showHelp = false
		default:
			m.help.Scroll(msg)
		}
		return m, nil
	}
	if m.detail != nil {
		switch {
		case key.Matches(msg, k.Close), key.Matches(msg, k.Open), key.Matches(msg, k.Quit):
			m.detail = nil
			return m, nil
		case key.Matches(msg, k.Help):
			m.showHelp = true
			m.help.offset = 0
			return m, nil
		}
		return m, m.detail.Update(msg)
	}

	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
		m.help.offset = 0
		return m, nil
	case key.Matches(msg, k.NextPane):
		m.cycleFocus(1)
		return m, nil
	case key.Matches(msg, k.PrevPane):
		m.cycleFocus(paneCount - 1)
		return m, nil
	case key.Matches(msg, k.Pause):
		m.feed.TogglePause()
		return m, nil
	case key.Matches(msg, k.Filter):
		m.ctx.Focus = paneFeed
		return m, m.feed.StartFilter()
	case key.Matches(msg, k.NextStream):
		return m, m.nextStream()
	case key.Matches(msg, k.Replay):
		return m, m.openReplay()
	case key.Matches(msg, k.Close):
		if m.feed.Replaying() {
			m.feed.StopReplay()
			return m, flash("back to the live feed", false)
		}
		if m.feed.Filtered() {
			m.feed.ClearFilter()
			return m, flash("filter cleared", false)
		}
		return m, nil
	}
	if cmd, ok := m.loadKey(msg); ok {
		return m, cmd
	}
	if m.ctx.Focus == paneFeed && key.Matches(msg, k.Open) {
		if r, ok := m.feed.selected(); ok {
			m.detail = newDetail(m.ctx, r.TapRecord, r.ahead)
			m.detail.SetSize(m.ctx.Width, m.lay.bodyH)
		}
		return m, nil
	}
	return m, m.pane(m.ctx.Focus).Update(msg)
}

// shardRows and prodRows are what the layout depends on besides the size.
func (m Model) shardRows() int {
	if m.ctx.Stream == nil {
		if m.ctx.Ticks > 0 && len(m.ctx.StreamNames) == 0 {
			return emptyRows // room for how to create a stream
		}
		return 0
	}
	return len(m.ctx.Stream.Shards)
}

func (m Model) prodRows() int { return len(m.ctx.Producers) }

// cycleFocus moves the focus by step (mod paneCount), passing over the
// around pane while there is nothing around.
func (m *Model) cycleFocus(step paneID) {
	c := m.ctx
	c.Focus = (c.Focus + step) % paneCount
	if c.Focus == paneAround && len(c.Around) == 0 {
		c.Focus = (c.Focus + step) % paneCount
	}
}

// resize lays the panes out for a w×h terminal.
func (m *Model) resize(w, h int) {
	c := m.ctx
	c.Width, c.Height = w, h
	l := layout{shardRow: m.shardRows(), prodRows: m.prodRows()}
	l.tooSmall = w < MinWidth || h < MinHeight
	l.wide = w >= wideWidth && h >= wideHeight
	l.bodyH = max(0, h-2) // header and status line
	shardNeed := l.shardRow + 3
	if l.wide {
		l.evH = max(5, min(10, h/6))
		rest := l.bodyH - l.evH
		l.rightW = max(48, min(64, w*3/10))
		l.leftW = w - l.rightW
		prodNeed := 2 + l.prodRows*3
		l.topH = max(6, min(max(shardNeed, prodNeed), rest*55/100))
		l.midH = rest - l.topH
		switch {
		case l.midH >= 20:
			l.costH = 7
		case l.midH >= 14:
			l.costH = 6
		}
	} else {
		l.leftW = w
		l.topH = max(5, min(shardNeed, l.bodyH*45/100))
		l.midH = l.bodyH - l.topH
		l.layMid(w, h)
	}
	m.lay = l
	c.Compact = !l.wide && !l.mid
	c.Mid = l.mid
	m.header.SetSize(w, 1)
	m.shards.SetSize(l.leftW, l.topH)
	m.feed.SetSize(l.leftW, l.midH)
	if l.wide {
		m.producers.SetSize(l.rightW, l.topH)
		m.consumers.SetSize(l.rightW, l.midH-l.costH)
		m.cost.SetSize(l.rightW, l.costH)
		if len(c.Around) > 0 {
			// The bottom row is shared: events left, around right.
			m.events.SetSize(l.leftW, l.evH)
			m.around.SetSize(l.rightW, l.evH)
		} else {
			m.events.SetSize(w, l.evH)
		}
	} else if l.mid {
		m.feed.SetSize(w, l.midH)
		m.consumers.SetSize(w, l.midH)
		m.around.SetSize(w, l.midH)
		m.events.SetSize(w-l.rightW, l.evH)
		m.producers.SetSize(l.rightW, l.evH)
	} else {
		m.producers.SetSize(w, l.midH)
		m.consumers.SetSize(w, l.midH)
		m.events.SetSize(w, l.midH)
		m.around.SetSize(w, l.midH)
	}
	if m.detail != nil {
		m.detail.SetSize(w, l.bodyH)
	}
}

// layMid takes a bottom row for events (left) and producers (right) from
// the compact layout's slot when the terminal is tall and wide enough,
// leaving the feed at least as tall as the bottom row.
func (l *layout) layMid(w, h int) {
	if w < midWidth || h < midHeight {
		return
	}
	prodNeed := 2 + l.prodRows*3
	evH := max(8, min(prodNeed, l.midH*45/100))
	if l.midH-evH < 10 {
		return
	}
	l.mid = true
	l.evH = evH
	l.midH -= evH
	l.rightW = max(44, min(60, w*2/5)) // producers; events take the rest
}

// midSlot is the pane shown under the shards in the compact layouts: the
// focused one, but the feed while the shards have the focus, and never
// one the mid layout shows in its bottom row.
func (m Model) midSlot() paneID {
	slot := m.ctx.Focus
	if slot == paneShards || (m.lay.mid && (slot == paneEvents || slot == paneProducers)) {
		slot = paneFeed
	}
	return slot
}

// View draws the screen: header, body, status line, exactly the window's
// size.
func (m Model) View() string {
	c, l := m.ctx, m.lay
	if l.tooSmall {
		return m.tooSmall()
	}
	var b strings.Builder
	b.Grow(c.Width * c.Height * 3)
	b.WriteString(m.header.View())
	b.WriteByte('\n')
	switch {
	case m.showHelp:
		b.WriteString(m.help.Full(c.Width, l.bodyH))
	case m.detail != nil:
		b.WriteString(m.detail.View())
	case l.wide:
		b.WriteString(joinColumns(m.shards.View(), m.producers.View()))
		b.WriteByte('\n')
		right := m.consumers.View()
		if l.costH > 0 {
			right += "\n" + m.cost.View()
		}
		b.WriteString(joinColumns(m.feed.View(), right))
		b.WriteByte('\n')
		if len(c.Around) > 0 {
			b.WriteString(joinColumns(m.events.View(), m.around.View()))
		} else {
			b.WriteString(m.events.View())
		}
	default:
		b.WriteString(m.shards.View())
		b.WriteByte('\n')
		b.WriteString(m.pane(m.midSlot()).View())
		if l.mid {
			b.WriteByte('\n')
			b.WriteString(joinColumns(m.events.View(), m.producers.View()))
		}
	}
	b.WriteByte('\n')
	b.WriteString(m.status())
	return b.String()
}

// tooSmall is the whole screen when the terminal is below the minimum.
func (m Model) tooSmall() string {
	c := m.ctx
	w, h := max(1, c.Width), max(1, c.Height)
	msg := fmt.Sprintf("terminal too small (need ≥ %d×%d, have %d×%d)", MinWidth, MinHeight, c.Width, c.Height)
	// Wrapped, never cut: the sizes are the point.
	text := strings.Split(ansi.Wrap(msg, w, ""), "\n")
	text = append(text, c.Styles.Faint.S("q quits"))
	lines := make([]string, h)
	for i := range lines {
		lines[i] = spaces(w)
	}
	top := max(0, (h-len(text))/2)
	for i, t := range text {
		if top+i < h {
			lines[top+i] = center(t, w)
		}
	}
	return strings.Join(lines, "\n")
}

// wheelLines is how far one notch of the mouse wheel scrolls.
const wheelLines = 3

// onMouse scrolls the pane under the pointer with the wheel, and a left
// click focuses the pane and selects the line under it.
func (m *Model) onMouse(msg tea.MouseMsg) tea.Cmd {
	if m.lay.tooSmall || m.feed.Editing() {
		return nil
	}
	if m.showHelp || m.detail != nil {
		up := tea.KeyMsg{Type: tea.KeyUp}
		down := tea.KeyMsg{Type: tea.KeyDown}
		var k tea.KeyMsg
		switch msg.Button {
		case tea.MouseButtonWheelUp:
			k = up
		case tea.MouseButtonWheelDown:
			k = down
		default:
			return nil
		}
		for i := 0; i < wheelLines; i++ {
			if m.showHelp {
				m.help.Scroll(k)
			} else {
				m.detail.Update(k)
			}
		}
		return nil
	}
	id, row, ok := m.paneAt(msg.X, msg.Y)
	if !ok {
		return nil
	}
	switch {
	case msg.Button == tea.MouseButtonWheelUp || msg.Button == tea.MouseButtonWheelDown:
		d := wheelLines
		if msg.Button == tea.MouseButtonWheelUp {
			d = -d
		}
		m.scrollPane(id, d)
	case msg.Button == tea.MouseButtonLeft && msg.Action == tea.MouseActionPress:
		m.ctx.Focus = id
		if row >= 0 {
			m.clickRow(id, row)
		}
	}
	return nil
}

// paneAt finds the pane at a screen cell and the line inside its box (0
// is the first line under the top border; -1 on a border).
func (m *Model) paneAt(x, y int) (paneID, int, bool) {
	l := m.lay
	top := 1 // under the header
	inside := func(y0, h int) int {
		if r := y - y0 - 1; r >= 0 && r < h-2 {
			return r
		}
		return -1
	}
	switch {
	case y < top || y >= top+l.bodyH:
		return 0, 0, false
	case y < top+l.topH:
		if l.wide && x >= l.leftW {
			return paneProducers, inside(top, l.topH), true
		}
		return paneShards, inside(top, l.topH), true
	case y < top+l.topH+l.midH:
		y0 := top + l.topH
		if !l.wide {
			return m.midSlot(), inside(y0, l.midH), true
		}
		if x < l.leftW {
			return paneFeed, inside(y0, l.midH), true
		}
		if y < y0+l.midH-l.costH {
			return paneConsumers, inside(y0, l.midH-l.costH), true
		}
		return 0, 0, false // the cost box takes no input
	case l.mid:
		if x >= l.leftW-l.rightW {
			return paneProducers, inside(top+l.topH+l.midH, l.evH), true
		}
		return paneEvents, inside(top+l.topH+l.midH, l.evH), true
	case l.wide:
		if l.wide && x >= l.leftW && len(m.ctx.Around) > 0 {
			return paneAround, inside(top+l.topH+l.midH, l.evH), true
		}
		return paneEvents, inside(top+l.topH+l.midH, l.evH), true
	}
	return 0, 0, false
}

// scrollPane moves a pane's selection or view by d lines.
func (m *Model) scrollPane(id paneID, d int) {
	switch id {
	case paneShards:
		m.shards.move(d)
	case paneFeed:
		m.feed.scroll(d)
	case paneProducers:
		m.producers.move(d)
	case paneConsumers:
		m.consumers.move(d)
	case paneEvents:
		m.events.scroll(d)
	case paneAround:
		m.around.scroll(d)
	}
}

// clickRow selects what is drawn on line row of a pane's box.
func (m *Model) clickRow(id paneID, row int) {
	switch id {
	case paneShards:
		if i := m.shards.offset + row - 1; row >= 1 && i < len(m.shards.order) { // line 0 holds the column titles
			m.shards.move(i - max(0, m.shards.selIndex()))
		}
	case paneProducers:
		if i := m.producers.offset + row/m.producers.linesPer(); i < len(m.ctx.Producers) {
			m.producers.move(i - max(0, m.producers.index()))
		}
	case paneFeed:
		m.feed.clickLine(row)
	case paneConsumers:
		m.consumers.clickLine(row)
	}
}
