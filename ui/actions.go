package ui

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// actionDoneMsg is the outcome of one backend action. ID is the action's
// number, so the status line knows which of the pending actions ended.
type actionDoneMsg struct {
	ID    int
	Label string
	Text  string
	Err   error
}

// copyDoneMsg is the outcome of copying a record's data.
type copyDoneMsg struct {
	Bytes int
	Hex   bool
	Err   error
}

// flashMsg puts a short message on the status line.
type flashMsg struct {
	Text string
	Bad  bool
}

// flash returns a command that shows text on the status line.
func flash(text string, bad bool) tea.Cmd {
	return func() tea.Msg { return flashMsg{Text: text, Bad: bad} }
}

// runAction returns a command that calls fn off the UI goroutine and
// reports its outcome. A panicking backend becomes an error on screen
// instead of taking the terminal down.
func runAction(id int, label string, fn func() (string, error)) tea.Cmd {
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				msg = actionDoneMsg{ID: id, Label: label, Err: fmt.Errorf("%s: panic: %v", label, r)}
			}
		}()
		text, err := fn()
		return actionDoneMsg{ID: id, Label: label, Text: text, Err: err}
	}
}

// copyRecord returns a command that puts the record's data on the
// clipboard: as text when it is UTF-8, otherwise as hex.
func copyRecord(fn func(string) error, r engine.TapRecord) tea.Cmd {
	text, isHex := string(r.Data), false
	if !utf8.Valid(r.Data) {
		text, isHex = hex.EncodeToString(r.Data), true
	}
	return func() tea.Msg {
		return copyDoneMsg{Bytes: len(text), Hex: isHex, Err: fn(text)}
	}
}

// retentionSteps are the retention periods r and R step through, in hours:
// one day (the default), two days, a week, 30 days, a year.
var retentionSteps = []int{24, 48, 168, 720, 8760}

// nextRetention returns the step after (up) or before cur; ok is false at
// either end.
func nextRetention(cur int, up bool) (hours int, ok bool) {
	if up {
		for _, h := range retentionSteps {
			if h > cur {
				return h, true
			}
		}
		return cur, false
	}
	for i := len(retentionSteps) - 1; i >= 0; i-- {
		if retentionSteps[i] < cur {
			return retentionSteps[i], true
		}
	}
	return cur, false
}

// timeLapseStep and timeLapseLongStep are how far one press of T and of
// ctrl+t move the engine clock.
const (
	timeLapseStep     = time.Hour
	timeLapseLongStep = 6 * time.Hour
)

// loadKey handles the load-experiment keys, which act on the selected
// shard or producer whatever pane has focus.
func (m *Model) loadKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k, b, stream := m.ctx.Keys, m.b, m.ctx.StreamName
	prod := m.producers.Selected()
	needProducer := func() (tea.Cmd, bool) {
		return flash("no producer selected", true), true
	}
	switch {
	case key.Matches(msg, k.RateUp):
		if prod == "" {
			return needProducer()
		}
		return m.act("rate ×2 "+prod, func() (string, error) { return b.ProducerScale(prod, 2) }), true
	case key.Matches(msg, k.RateDown):
		if prod == "" {
			return needProducer()
		}
		return m.act("rate ×½ "+prod, func() (string, error) { return b.ProducerScale(prod, 0.5) }), true
	case key.Matches(msg, k.Burst):
		if prod == "" {
			return needProducer()
		}
		return m.act("burst "+prod, func() (string, error) { return b.ProducerBurst(prod) }), true
	case key.Matches(msg, k.Toggle):
		if prod == "" {
			return needProducer()
		}
		return m.act("toggle "+prod, func() (string, error) { return b.ProducerToggle(prod) }), true
	case key.Matches(msg, k.Skew):
		if prod == "" {
			return needProducer()
		}
		return m.act("key skew "+prod, func() (string, error) { return b.ProducerCycleSkew(prod) }), true
	case key.Matches(msg, k.Aggregate):
		if prod == "" {
			return needProducer()
		}
		return m.act("KPL aggregation "+prod, func() (string, error) { return b.ProducerToggleAggregate(prod) }), true
	case key.Matches(msg, k.Split):
		s, ok := m.shards.Selected()
		switch {
		case !ok:
			return flash(errNoShard.Error(), true), true
		case !s.Open:
			return flash(s.ShardID+" is closed: only open shards can split", true), true
		}
		id := s.ShardID
		return m.act("split "+shortShard(id), func() (string, error) { return b.SplitShard(stream, id) }), true
	case key.Matches(msg, k.Merge):
		a, c, err := m.shards.mergePartner()
		if err != nil {
			return flash(err.Error(), true), true
		}
		return m.act("merge "+shortShard(a)+" + "+shortShard(c), func() (string, error) { return b.MergeShards(stream, a, c) }), true
	case key.Matches(msg, k.RetentionUp), key.Matches(msg, k.RetentionDown):
		if m.ctx.Stream == nil {
			return flash("no stream yet", true), true
		}
		up := key.Matches(msg, k.RetentionUp)
		cur := m.ctx.Stream.RetentionHours
		h, ok := nextRetention(cur, up)
		if !ok {
			return flash("retention is already at "+strconv.Itoa(cur)+"h, the end of 24h → 48h → 168h → 720h → 8760h", true), true
		}
		return m.act(fmt.Sprintf("retention %dh → %dh", cur, h), func() (string, error) { return b.SetRetention(stream, h) }), true
	case key.Matches(msg, k.TimeLapse):
		return m.act("time-lapse +1h", func() (string, error) { return b.TimeLapse(timeLapseStep) }), true
	case key.Matches(msg, k.TimeLapseLong):
		return m.act("time-lapse +6h", func() (string, error) { return b.TimeLapse(timeLapseLongStep) }), true
	}
	return m.streamKey(msg)
}

// streamKey handles the keys that act on the watched stream's capacity
// mode and consumers, whatever pane has focus.
func (m *Model) streamKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k, b, stream := m.ctx.Keys, m.b, m.ctx.StreamName
	if !key.Matches(msg, k.Mode, k.AddPolling, k.RemovePolling, k.AddFanOut, k.RemoveFanOut, k.StopWorker) {
		return nil, false
	}
	if m.ctx.Stream == nil {
		return flash("no stream yet", true), true
	}
	switch {
	case key.Matches(msg, k.Mode):
		to := engine.ModeOnDemand
		if m.ctx.Stream.Mode == engine.ModeOnDemand {
			to = engine.ModeProvisioned
		}
		return m.act("capacity mode → "+string(to), func() (string, error) { return b.ToggleCapacityMode(stream) }), true
	case key.Matches(msg, k.AddPolling):
		return m.act("add polling consumer", func() (string, error) { return b.AddConsumer(stream, false) }), true
	case key.Matches(msg, k.AddFanOut):
		return m.act("add fan-out consumer", func() (string, error) { return b.AddConsumer(stream, true) }), true
	case key.Matches(msg, k.RemovePolling), key.Matches(msg, k.RemoveFanOut):
		kind := KindPolling
		if key.Matches(msg, k.RemoveFanOut) {
			kind = KindFanOut
		}
		name, ok := m.consumers.pick(kind)
		switch {
		case !ok && m.consumers.has(kind):
			return flash("no "+kind+" consumer added with "+addKey(k, kind)+" to remove: select one in the consumers pane (tab) to remove it", true), true
		case !ok:
			return flash("no "+kind+" consumer on "+stream+" to remove", true), true
		}
		m.consumers.markRemoving(name, true)
		return m.act("remove "+name, func() (string, error) { return b.RemoveConsumer(stream, name) }), true
	}
	// k.StopWorker
	app, w := m.consumers.Selected()
	switch {
	case app == nil:
		return flash("no consumer application to stop a worker of", true), true
	case w == nil:
		return flash("pick a worker of "+app.v.Name+" with ↓ first", true), true
	case w.Stopped:
		return flash(w.ID+" of "+app.v.Name+" is already stopped", true), true
	}
	name, id := app.v.Name, w.ID
	return m.act("stop "+id+" of "+name, func() (string, error) { return b.StopWorker(name, id) }), true
}

// addKey names the key that adds a consumer of the kind.
func addKey(k *KeyMap, kind string) string {
	if kind == KindFanOut {
		return k.AddFanOut.Help().Key
	}
	return k.AddPolling.Help().Key
}

// act starts a backend action as a command and shows it as pending.
func (m *Model) act(label string, fn func() (string, error)) tea.Cmd {
	m.nextID++
	m.pending[m.nextID] = label
	return runAction(m.nextID, label, fn)
}
