package ui

import (
	"strconv"

	"github.com/charmbracelet/bubbles/key"
)

// status is the bottom line: the short help for what has the keyboard, and
// on the right a running action's spinner or the latest outcome.
func (m Model) status() string {
	c, st := m.ctx, m.ctx.Styles
	right := ""
	switch {
	case len(m.pending) > 0:
		id := 0
		for k := range m.pending {
			id = max(id, k)
		}
		right = m.spin.View() + " " + m.pending[id] + "…"
		if n := len(m.pending); n > 1 {
			right += " (+" + strconv.Itoa(n-1) + ")"
		}
	case m.flashText != "":
		right = m.flashText
		if m.flashBad {
			right = st.Danger.S("⚠ " + right)
		} else {
			right = st.Accent.S(right)
		}
	}
	right = cut(right, c.Width*2/3)
	helpW := c.Width - 2 - width(right)
	if right != "" {
		helpW -= 2
	}
	left := m.help.Short(m.shortKeys(), max(0, helpW))
	line := " " + fit(left, max(0, helpW))
	if right != "" {
		line += "  " + right
	}
	return fit(line, c.Width)
}

// shortKeys is what the one-line help lists: the keys of whatever has the
// keyboard in a few words each, then pane, help and quit.
func (m Model) shortKeys() []key.Binding {
	k := m.ctx.Keys
	tail := []key.Binding{withHelp(k.NextPane, "tab", "pane"), withHelp(k.Help, "?", "help"), withHelp(k.Quit, "q", "quit")}
	var keys []key.Binding
	switch {
	case m.feed.form != nil:
		return []key.Binding{withHelp(k.Up, "↑↓", "iterator type"), withHelp(k.NextPane, "tab", "shard"),
			withHelp(k.Open, "enter", "read"), withHelp(k.Close, "esc", "cancel")}
	case m.feed.Editing():
		return []key.Binding{withHelp(k.Open, "enter", "apply filter"), withHelp(k.Close, "esc", "cancel"),
			key.NewBinding(key.WithKeys("/"), key.WithHelp("re:… /…/", "regex")),
			key.NewBinding(key.WithKeys("!"), key.WithHelp("!…", "invert"))}
	case m.showHelp:
		return []key.Binding{withHelp(k.Up, "↑↓ pgup/pgdn", "scroll"), withHelp(k.Help, "?/esc/q", "close help"), withHelp(k.ForceQuit, "ctrl+c", "quit")}
	case m.detail != nil:
		return []key.Binding{withHelp(k.Up, "↑↓", "scroll"), withHelp(k.Copy, "c", "copy data"),
			withHelp(k.Close, "esc/q", "close"), withHelp(k.ForceQuit, "ctrl+c", "quit")}
	case m.ctx.Focus == paneShards:
		keys = []key.Binding{withHelp(k.Up, "↑↓", "shard"), withHelp(k.Split, "S", "split"), withHelp(k.Merge, "M", "merge"),
			withHelp(k.Mode, "m", "mode"), withHelp(k.RetentionUp, "r/R", "retention"), withHelp(k.TimeLapse, "T", "+1h"),
			withHelp(k.RateUp, "+/-", "rate"), withHelp(k.Pause, "p", "pause"), withHelp(k.Filter, "/", "filter"), withHelp(k.Replay, "i", "replay")}
	case m.ctx.Focus == paneFeed:
		keys = []key.Binding{withHelp(k.Up, "↑↓", "scroll"), withHelp(k.Pause, "p", "pause"), withHelp(k.Filter, "/", "filter"),
			withHelp(k.Open, "enter", "record"), withHelp(k.Copy, "c", "copy"), withHelp(k.Replay, "i", "replay"), withHelp(k.Split, "S", "split"), withHelp(k.RateUp, "+/-", "rate")}
	case m.ctx.Focus == paneProducers:
		keys = []key.Binding{withHelp(k.Up, "↑↓", "producer"), withHelp(k.RateUp, "+/-", "rate"), withHelp(k.Burst, "b", "burst"),
			withHelp(k.Toggle, "space", "on/off"), withHelp(k.Aggregate, "g", "KPL"), withHelp(k.Skew, "K", "key skew"),
			withHelp(k.Pause, "p", "pause")}
	case m.ctx.Focus == paneConsumers:
		keys = []key.Binding{withHelp(k.Up, "↑↓", "select"), withHelp(k.StopWorker, "x", "stop worker"),
			withHelp(k.AddPolling, "a/A", "polling"), withHelp(k.AddFanOut, "f/F", "fan-out"), withHelp(k.Mode, "m", "mode")}
	default:
		keys = []key.Binding{withHelp(k.Up, "↑↓", "scroll"), withHelp(k.RateUp, "+/-", "rate"), withHelp(k.Split, "S", "split"),
			withHelp(k.Pause, "p", "pause")}
	}
	if len(m.ctx.StreamNames) > 1 {
		// Switching streams matters more than the pane's last keys.
		keys = append([]key.Binding{withHelp(k.NextStream, "w", "stream")}, keys...)
	}
	return append(keys, tail...)
}
