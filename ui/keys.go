package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key the console understands, in one place. Dispatch uses
// key.Matches; the help views are generated from these bindings.
type KeyMap struct {
	// navigate
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding // the oldest / the newest (the live feed)
	NextPane         key.Binding
	PrevPane         key.Binding

	// load experiments
	RateUp        key.Binding
	RateDown      key.Binding
	Burst         key.Binding
	Toggle        key.Binding
	Skew          key.Binding
	Aggregate     key.Binding // KPL aggregation of the selected producer
	Split         key.Binding
	Merge         key.Binding
	RetentionUp   key.Binding
	RetentionDown key.Binding
	TimeLapse     key.Binding
	TimeLapseLong key.Binding // six hours at once
	Mode          key.Binding // capacity mode PROVISIONED ↔ ON_DEMAND

	// consumers
	AddPolling    key.Binding
	RemovePolling key.Binding
	AddFanOut     key.Binding
	RemoveFanOut  key.Binding
	StopWorker    key.Binding

	// feed
	Pause  key.Binding
	Filter key.Binding
	Open   key.Binding
	Copy   key.Binding
	Close  key.Binding
	Replay key.Binding // re-read a shard from an iterator type

	// app
	NextStream key.Binding
	Help       key.Binding
	Quit       key.Binding
	ForceQuit  key.Binding
}

// DefaultKeyMap returns the console's keys.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home"), key.WithHelp("home", "top")), // g is KPL aggregation
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "bottom (feed: live)")),
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),

		RateUp:        key.NewBinding(key.WithKeys("+", "="), key.WithHelp("+", "producer rate ×2")),
		RateDown:      key.NewBinding(key.WithKeys("-", "_"), key.WithHelp("-", "producer rate ×½")),
		Burst:         key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "burst ×10")),
		Toggle:        key.NewBinding(key.WithKeys(" ", "t"), key.WithHelp("space/t", "producer on/off")),
		Skew:          key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "cycle key skew")),
		Aggregate:     key.NewBinding(key.WithKeys("g"), key.WithHelp("g", "KPL aggregation on/off")),
		Split:         key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "split shard")),
		Merge:         key.NewBinding(key.WithKeys("M"), key.WithHelp("M", "merge with neighbour")),
		RetentionUp:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retention up")),
		RetentionDown: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "retention down")),
		TimeLapse:     key.NewBinding(key.WithKeys("T"), key.WithHelp("T", "time-lapse +1h")),
		// A terminal sends shift+t as T, so the long step takes ctrl.
		TimeLapseLong: key.NewBinding(key.WithKeys("ctrl+t"), key.WithHelp("ctrl+t", "time-lapse +6h")),
		Mode:          key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "capacity mode prov ↔ on-demand")),

		AddPolling:    key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add polling")),
		RemovePolling: key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "remove polling")),
		AddFanOut:     key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "add fan-out")),
		RemoveFanOut:  key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "remove fan-out")),
		StopWorker:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop worker")),

		Pause:  key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume feed")),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter feed")),
		Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "record detail")),
		Copy:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy data (OSC 52)")),
		Close:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "close")),
		Replay: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "replay shard (iterator types)")),

		NextStream: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "next stream")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		ForceQuit:  key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
	}
}

// withHelp returns a copy of b with other help text, so one binding can
// say what it does in the focused pane ("select shard", "scroll feed").
func withHelp(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}
