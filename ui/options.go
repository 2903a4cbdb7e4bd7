package ui

import (
	"errors"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
)

// DefaultTickInterval is how often Run refreshes the screen from the
// backend when Options.TickInterval is zero: five frames a second is smooth
// for counters and cheap for the renderer.
const DefaultTickInterval = 200 * time.Millisecond

// DefaultFeedCapacity is how many records the feed keeps for scrolling,
// filtering and the detail view.
const DefaultFeedCapacity = 2000

// Options configures the console. The zero value works with New for tests
// (no tick, wall clock, OSC 52 copy); Run fills in the tick interval.
type Options struct {
	// Stream is the name of the stream the console watches first. While
	// the user has not picked another one (w), the console follows it; when
	// it does not exist the console watches the first stream by name.
	Stream string
	// Endpoint is the URL where the Kinesis API is served alongside the
	// console ("http://127.0.0.1:4567"), for the hint shown while there are
	// no streams; "" when it is not served.
	Endpoint string
	// Clock tells the console's time (uptime, event stamps, message
	// expiry). Nil means time.Now. Record ages use the engine's snapshot
	// time instead, so a time-lapse shows.
	Clock func() time.Time
	// TickInterval is how often the console polls the backend. With New,
	// zero means no tick at all (tests drive ticks by hand); Run uses
	// DefaultTickInterval for zero. A negative value always means no tick.
	TickInterval time.Duration
	// FeedCapacity bounds the feed's ring buffer; zero means
	// DefaultFeedCapacity.
	FeedCapacity int
	// Copy puts text on the user's clipboard. Nil means OSC 52 on standard
	// output (termenv), which works over SSH and in tmux with
	// set-clipboard on.
	Copy func(text string) error
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.TickInterval < 0 {
		o.TickInterval = 0
	}
	if o.FeedCapacity <= 0 {
		o.FeedCapacity = DefaultFeedCapacity
	}
	if o.Copy == nil {
		o.Copy = osc52Copy
	}
	return o
}

// errNotTerminal is returned by the default copier when standard output is
// not a terminal, so there is nobody to receive the OSC 52 sequence.
var errNotTerminal = errors.New("standard output is not a terminal")

// osc52Copy writes text to the terminal's clipboard with an OSC 52
// sequence. The terminal may ignore it (tmux needs set-clipboard on); there
// is no way to know, so the console says which mechanism it used.
func osc52Copy(text string) error {
	fd := os.Stdout.Fd()
	if !isatty.IsTerminal(fd) && !isatty.IsCygwinTerminal(fd) {
		return errNotTerminal
	}
	termenv.NewOutput(os.Stdout).Copy(text)
	return nil
}
