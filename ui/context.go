package ui

import (
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// paneID names a focusable pane.
type paneID int

// The focusable panes, in tab order.
const (
	paneShards paneID = iota
	paneFeed
	paneProducers
	paneConsumers
	paneEvents
	paneAround // only while the backend reports applications around the stream
	paneCount
)

// String returns the pane's title.
func (p paneID) String() string {
	switch p {
	case paneShards:
		return "Shards"
	case paneFeed:
		return "Feed"
	case paneProducers:
		return "Producers"
	case paneConsumers:
		return "Consumers"
	case paneEvents:
		return "Events"
	case paneAround:
		return "Around"
	}
	return "?"
}

// pane is the contract every pane keeps. Panes are pointers owned by the
// root model, so Update mutates in place and returns only a command (a
// returned copy would add nothing). Update gets every dataMsg and, while
// the pane has focus, its keys.
type pane interface {
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
	// HelpKeys returns the keys that act on this pane, for the help views.
	HelpKeys() []key.Binding
}

// Context is what all panes share: size, styles, keys, clock and the data
// of the latest tick. The root model owns it and updates it before the
// panes see a message.
type Context struct {
	Width, Height int
	Styles        *Styles
	Keys          *KeyMap
	// Now is the console's clock (Options.Clock). Views do not call it:
	// they read At, the time of the latest tick, so a frame is a function
	// of the model alone.
	Now     func() time.Time
	Started time.Time
	At      time.Time

	// StreamName is the stream the console watches: Options.Stream, the
	// one picked with w, or the first by name when that one is missing.
	StreamName string
	// Preferred is Options.Stream and Endpoint Options.Endpoint, for the
	// hint shown while there are no streams.
	Preferred, Endpoint string
	// Focus is the pane that gets the keys.
	Focus paneID
	// Compact is true when only one of feed, producers, consumers and
	// events fits under the shards.
	Compact bool
	// Mid is true when the compact layout has a bottom row for events and
	// producers, so only consumers (and around) share the feed's place.
	Mid bool
	// Paused mirrors the feed's pause for the header.
	Paused bool
	// Ahead is how far the engine's clock runs ahead of the console's (a
	// time-lapse), to the minute; 0 when it does not. The console shows
	// every time on its own clock and marks what happened on the engine's.
	Ahead time.Duration

	// Data of the latest tick.
	Snap   engine.Snapshot
	Stream *engine.StreamSnapshot // nil until the stream exists
	// StreamNames are the snapshot's streams, sorted by name.
	StreamNames []string
	Producers   []ProducerView
	Consumers   []ConsumerView
	Around      []AroundView
	// Attach is set when the backend is attached to a remote stream.
	Attach *Attachment
	// Ticks counts data ticks; zero means nothing arrived yet.
	Ticks int

	// copy puts text on the clipboard (Options.Copy).
	copy func(text string) error
}

// dataMsg is one tick's reading of the backend. It is made in a tea.Cmd
// goroutine so Update stays free of I/O.
type dataMsg struct {
	Snap      engine.Snapshot
	Records   []engine.TapRecord
	Dropped   uint64
	Producers []ProducerView
	Consumers []ConsumerView
	// Around are the backend's triggers, deliveries and agent flows.
	Around []AroundView
	// Attach is set for an attached backend.
	Attach *Attachment
	// tick is set when the message came from the paced tick, which then
	// schedules the next one; hand-made messages leave it false.
	tick bool
}
