package remote

import (
	"context"
	"errors"
	"os"

	"github.com/mattn/go-isatty"

	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/ui"
)

// AttachOptions are the flags of shardscope attach.
type AttachOptions struct {
	// Client says where the stream is and whether writes are allowed;
	// --efo allows registering (and deregistering) its consumer.
	Client remote.Options
	Config
}

// Attach opens the console on a remote stream until the user quits. No
// store is opened. On the way out the producers stop first, then the
// readers, then a fan-out consumer this console registered is
// deregistered.
func Attach(ctx context.Context, o AttachOptions) error {
	if o.Stream == "" {
		return errors.New("--stream is required")
	}
	if !isatty.IsTerminal(os.Stdin.Fd()) || !isatty.IsTerminal(os.Stdout.Fd()) {
		return errors.New("the console needs a terminal on stdin and stdout")
	}
	if o.EFO != "" {
		o.Client.AllowConsumers = true
	}
	c, err := remote.New(ctx, o.Client)
	if err != nil {
		return err
	}
	b := New(c, o.Config)
	if err := b.Start(ctx); err != nil {
		return err
	}
	defer b.Stop()
	return ui.Run(b, ui.Options{Stream: o.Stream})
}
