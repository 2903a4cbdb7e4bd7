package ui

import (
	"fmt"
	"sort"
	"strconv"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/shardscope/shardscope/engine"
)

// emptyRows is how many lines the shards pane takes to say how to create
// a stream while there is none.
const emptyRows = 5

// followStream picks the stream to watch from a new snapshot: the one asked
// for (Options.Stream) until the user picks another, else the one watched,
// else, when that one is gone, the first by name. When it moves on its own
// it returns a sentence for the events pane.
func (m *Model) followStream() (news string) {
	c := m.ctx
	c.StreamNames = c.StreamNames[:0]
	for i := range c.Snap.Streams {
		c.StreamNames = append(c.StreamNames, c.Snap.Streams[i].Name)
	}
	sort.Strings(c.StreamNames)
	has := func(name string) bool {
		i := sort.SearchStrings(c.StreamNames, name)
		return i < len(c.StreamNames) && c.StreamNames[i] == name
	}
	// c.Stream still points into the previous snapshot here.
	had := c.Stream != nil && c.Stream.Name == c.StreamName
	old, want := c.StreamName, c.StreamName
	switch {
	case !m.pinned && c.Preferred != "" && has(c.Preferred):
		want = c.Preferred
	case has(old):
	case len(c.StreamNames) > 0:
		want = c.StreamNames[0]
	}
	if want == old {
		c.Stream = c.Snap.Stream(want)
		return ""
	}
	m.watch(want)
	switch {
	case has(old): // moved off a live stream: the one asked for appeared
		return "stream " + want + " exists now: watching it"
	case had:
		return "stream " + old + " is gone: now watching " + want
	case old != "":
		return "stream " + strconv.Quote(old) + " does not exist: watching " + want + " (w switches streams)"
	}
	return ""
}

// watch makes name the watched stream: header, shards, feed and consumers
// follow it at once.
func (m *Model) watch(name string) {
	c := m.ctx
	c.StreamName = name
	c.Stream = c.Snap.Stream(name)
	m.feed.SetStream(name)
	m.shards.reorder()
	m.consumers.refresh()
}

// nextStream moves the watch to the next stream by name (w).
func (m *Model) nextStream() tea.Cmd {
	c := m.ctx
	names := c.StreamNames
	switch {
	case len(names) == 0:
		return flash("no streams yet: see the Shards pane", true)
	case len(names) == 1 && names[0] == c.StreamName:
		return flash("only one stream: "+c.StreamName, false)
	}
	i := sort.SearchStrings(names, c.StreamName)
	if i < len(names) && names[i] == c.StreamName {
		i++
	}
	i %= len(names)
	m.pinned = true
	m.watch(names[i])
	if m.shardRows() != m.lay.shardRow {
		m.resize(c.Width, c.Height)
	}
	enc := ""
	if s := c.Snap.Stream(names[i]); s != nil && s.EncryptionType == engine.EncryptionKMS {
		enc = ", encrypted with " + s.KeyID
	}
	m.report("watch", fmt.Sprintf("watching stream %s (%d of %d%s)", names[i], i+1, len(names), enc), false)
	return nil
}
