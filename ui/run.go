package ui

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/term"
	"github.com/muesli/termenv"
)

// Run shows the console on the terminal until the user quits. It uses the
// alternate screen and gives the terminal back as it found it on every way
// out: quit, error, signal or panic. Bubble Tea restores the terminal
// itself for errors and for panics it catches (in Update, View and
// commands); a panic anywhere else is caught here, the terminal restored
// from the state saved at start, and the panic returned as an error with
// its stack.
func Run(b Backend, opts Options) (err error) {
	if b == nil {
		return errors.New("ui: nil backend")
	}
	if opts.TickInterval == 0 {
		opts.TickInterval = DefaultTickInterval
	}
	// New settles the colour profile and the background colour before the
	// program owns the terminal: asking the terminal later would race
	// Bubble Tea's input reader.
	m := New(b, opts)

	restore := func() {}
	if fd := os.Stdin.Fd(); term.IsTerminal(fd) {
		if saved, gerr := term.GetState(fd); gerr == nil {
			restore = func() { _ = term.Restore(fd, saved) }
		}
	}
	defer func() {
		if r := recover(); r != nil {
			out := termenv.NewOutput(os.Stdout)
			out.ExitAltScreen()
			out.ShowCursor()
			restore()
			err = fmt.Errorf("ui: panic: %v\n%s", r, debug.Stack())
		}
	}()

	// Cell motion reports clicks and the wheel (and drags), not every move
	// of the pointer; shift+drag still selects text in most terminals.
	if _, err := tea.NewProgram(m, tea.WithAltScreen(), tea.WithMouseCellMotion()).Run(); err != nil {
		return fmt.Errorf("ui: %w", err)
	}
	return nil
}
