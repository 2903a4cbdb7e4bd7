package ui

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func init() {
	// Goldens are plain text: no colour, no attributes.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
}

// harness drives a Model the way Bubble Tea would, synchronously.
type harness struct {
	t     *testing.T
	m     Model
	fake  *fakeBackend
	clock *fakeClock
	quit  bool
}

func newHarness(t *testing.T, w, h int) *harness {
	t.Helper()
	return newHarnessWith(t, w, h, Options{Stream: "demo"}, nil)
}

// newHarnessWith is newHarness with other options (the clock and the
// copier are the harness's) and a change to the fake before the first
// reading.
func newHarnessWith(t *testing.T, w, h int, opts Options, prep func(f *fakeBackend)) *harness {
	t.Helper()
	fake := newFakeBackend()
	if prep != nil {
		prep(fake)
	}
	clock := &fakeClock{t: t0.Add(-12*time.Minute - 31*time.Second)}
	opts.Clock, opts.Copy = clock.Now, fake.copy
	m := New(fake, opts)
	clock.Set(t0)
	hs := &harness{t: t, m: m, fake: fake, clock: clock}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(m.Init())
	return hs
}

// send delivers msg and runs the commands it returns.
func (h *harness) send(msg tea.Msg) {
	h.t.Helper()
	mm, cmd := h.m.Update(msg)
	h.m = mm.(Model)
	h.run(cmd)
}

// run executes a command and feeds its messages back, as the program does.
func (h *harness) run(cmd tea.Cmd) {
	h.t.Helper()
	if cmd == nil {
		return
	}
	switch msg := cmd().(type) {
	case nil:
	case tea.QuitMsg:
		h.quit = true
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	default:
		h.send(msg)
	}
}

// tick polls the backend once, like the paced tick.
func (h *harness) tick() { h.t.Helper(); h.run(h.m.poll()) }

// press types keys: names like "up", "tab", "enter", or literal text.
func (h *harness) press(keys ...string) {
	h.t.Helper()
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

// typeText types each rune of s as its own key.
func (h *harness) typeText(s string) {
	h.t.Helper()
	for _, r := range s {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func keyMsg(k string) tea.KeyMsg {
	named := map[string]tea.KeyType{
		"up": tea.KeyUp, "down": tea.KeyDown, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown,
		"space": tea.KeySpace, "ctrl+c": tea.KeyCtrlC, "backspace": tea.KeyBackspace,
		"ctrl+t": tea.KeyCtrlT, "end": tea.KeyEnd, "home": tea.KeyHome,
	}
	if t, ok := named[k]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// view renders and checks the frame's shape: exactly h lines of exactly
// w cells.
func (h *harness) view() string {
	h.t.Helper()
	v := h.m.View()
	lines := strings.Split(v, "\n")
	c := h.m.ctx
	if len(lines) != c.Height {
		h.t.Errorf("view has %d lines, want %d", len(lines), c.Height)
	}
	for i, l := range lines {
		if w := width(l); w != c.Width {
			h.t.Errorf("line %d is %d cells wide, want %d: %q", i, w, c.Width, l)
		}
	}
	return v
}

// golden compares got with testdata/name.golden (or rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui/ -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s\nwant:\n%s", name, got, want)
	}
}
