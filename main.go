// Command shardscope runs an embedded Kinesis Data Streams–style engine with
// a live terminal console on top. main only wires the parts together: it
// parses the command line, opens the store, starts the engine, the
// producers and the consumers, runs the console, and shuts everything down
// in order.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/adrg/xdg"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/shardscope/shardscope/api"
	"github.com/shardscope/shardscope/api/loadgen"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
	"github.com/shardscope/shardscope/ui/embedded"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// the module version from the build info is used.
var version = ""

func main() {
	// Records are many small allocations (keys, payloads, sequence
	// numbers); a less eager collector costs some memory and buys ~1.5× the
	// write throughput over the wire (see README). GOGC still wins if set.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "shardscope:", err)
		os.Exit(1)
	}
}

// storeFlags are the flags every command that opens a store shares.
type storeFlags struct {
	db                                    string
	fresh                                 bool
	sync                                  string
	noLimits                              bool
	createDelay, updateDelay, deleteDelay time.Duration
}

func (f *storeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.db, "db", "", "store file (default: $XDG_DATA_HOME/shardscope/shardscope.db)")
	cmd.Flags().BoolVar(&f.fresh, "fresh", false, "start from an empty store (deletes the file's streams and checkpoints)")
	cmd.Flags().StringVar(&f.sync, "sync", "always", "durability: always (fsync every commit) or none")
	cmd.Flags().BoolVar(&f.noLimits, "no-limits", false, "switch off the per-shard throughput limits")
	cmd.Flags().DurationVar(&f.createDelay, "create-delay", 0, "how long a new stream stays CREATING (the service takes ~30s)")
	cmd.Flags().DurationVar(&f.updateDelay, "update-delay", 0, "how long a resharded stream stays UPDATING")
	cmd.Flags().DurationVar(&f.deleteDelay, "delete-delay", 0, "how long a deleted stream stays DELETING")
}

// open opens the store and the engine over it; tune, if given, adjusts the
// engine options the flags produce.
func (f *storeFlags) open(clock engine.Clock, tune func(*engine.Options)) (*storage.DB, *engine.Engine, error) {
	mode, err := storage.ParseSyncMode(f.sync)
	if err != nil {
		return nil, nil, err
	}
	path := f.db
	if path == "" {
		if path, err = xdg.DataFile(filepath.Join("shardscope", "shardscope.db")); err != nil {
			return nil, nil, fmt.Errorf("default store path: %w", err)
		}
	}
	db, err := storage.Open(path, storage.Options{Sync: mode})
	if err != nil {
		return nil, nil, err
	}
	if f.fresh {
		// Opening first proves no other process holds the store.
		path := db.Path()
		if err := db.Close(); err != nil {
			return nil, nil, fmt.Errorf("--fresh: %w", err)
		}
		if err := storage.Remove(path); err != nil {
			return nil, nil, fmt.Errorf("--fresh: %w", err)
		}
		if db, err = storage.Open(path, storage.Options{Sync: mode}); err != nil {
			return nil, nil, err
		}
	}
	opts := engine.Options{
		Clock: clock, DisableLimits: f.noLimits,
		CreateDelay: f.createDelay, UpdateDelay: f.updateDelay, DeleteDelay: f.deleteDelay,
	}
	if tune != nil {
		tune(&opts)
	}
	e, err := engine.New(db, opts)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("start engine on %s: %w", path, err)
	}
	return db, e, nil
}

func rootCommand() *cobra.Command {
	var store storeFlags
	var seed int64
	var stream, listen string
	var maxConns int
	root := &cobra.Command{
		Use:   "shardscope",
		Short: "A Kinesis Data Streams–style stream on your laptop, with a live console",
		Long: `shardscope runs an embedded Amazon Kinesis Data Streams–style engine and
opens a live terminal console on it: shards over the hash-key space,
throughput against the shard limits, retention, a live record feed,
producers and consumers, all driven from the keyboard.

With no store yet, a stream "demo" with 4 shards is created and three
producers (clickstream, IoT sensors, application logs) start writing.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano()
			}
			return runConsole(store, stream, seed, listen, maxConns)
		},
	}
	root.SetFlagErrorFunc(usageHint) // subcommands inherit it
	root.Args = func(cmd *cobra.Command, args []string) error {
		if err := cobra.NoArgs(cmd, args); err != nil {
			return usageHint(cmd, err)
		}
		return nil
	}
	store.register(root)
	root.Flags().Int64Var(&seed, "seed", 0, "seed for the producers (same seed, same records)")
	root.Flags().StringVar(&stream, "stream", "demo", "stream to create if missing and to watch")
	root.Flags().StringVar(&listen, "listen", "", "also serve the Kinesis API on this address (e.g. 127.0.0.1:4567)")
	root.Flags().IntVar(&maxConns, "max-conns", api.DefaultMaxConns, "with --listen: most connections served at once (more wait to be accepted)")
	root.AddCommand(serveCommand(), benchCommand(), repairCommand(), checkCommand())
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "shardscope", versionString())
		},
	})
	return root
}

func versionString() string {
	if version != "" {
		return version
	}
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

// versionFrom reads the version from the build info: the module's version
// when built as a dependency or with go install …@version, otherwise the
// commit it was built from (go build and go run stamp it unless
// -buildvcs=false), marked -dirty when the tree had changes.
func versionFrom(bi *debug.BuildInfo) string {
	if bi == nil {
		return "dev (no build information)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev (built without version control information: -buildvcs=false or outside a repository)"
	}
	v := "dev-" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	if at != "" {
		v += " (" + at + ")"
	}
	return v
}

// usageHint makes a command-line mistake point at the help.
func usageHint(cmd *cobra.Command, err error) error {
	return fmt.Errorf("%w\nRun '%s --help' for usage.", err, cmd.CommandPath())
}

func checkCommand() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Verify a store offline: page structure, bbolt's check, every record's checksum, the log",
		Long: `check reads a whole store without changing it: the bbolt file's page
structure and bbolt's consistency check, every record's checksum and each
shard's record count, and every write-ahead log segment beside it. It prints
a summary and exits non-zero if it finds damage. The store must not be in
use by another shardscope.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				var err error
				if path, err = xdg.DataFile(filepath.Join("shardscope", "shardscope.db")); err != nil {
					return fmt.Errorf("default store path: %w", err)
				}
			}
			rep, err := storage.CheckStore(path, time.Second)
			if err != nil {
				return err
			}
			printCheckReport(cmd.OutOrStdout(), rep)
			if rep.Damage() {
				return fmt.Errorf("%s is damaged: %s found", path, count(len(rep.Problems)+rep.Unlisted(), "problem"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "db", "", "store file (default: $XDG_DATA_HOME/shardscope/shardscope.db)")
	return cmd
}

// count says "1 shard", "2 shards".
func count[N int | int64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func printCheckReport(w io.Writer, r *storage.StoreReport) {
	fmt.Fprintf(w, "store    %s\n", r.Path)
	if r.Pages > 0 {
		fmt.Fprintf(w, "file     schema version %d, %d pages of %d KiB in its tree\n", r.Version, r.Pages, r.PageSize>>10)
		line := fmt.Sprintf("records  %d in %s of %s, %d bytes of payload", r.Records, count(r.Shards, "shard"), count(r.Streams, "stream"), r.Bytes)
		switch {
		case r.Unchecked > 0:
			line += fmt.Sprintf("; %d written before checksums (the next open adds them)", r.Unchecked)
		case r.Damaged == 0:
			line += "; every checksum matches"
		}
		fmt.Fprintln(w, line)
	}
	for _, s := range r.Segments {
		switch {
		case s.Checkpointed:
			fmt.Fprintf(w, "log      %s: already checkpointed (the next open deletes it)\n", s.Name)
		case s.TornTail:
			fmt.Fprintf(w, "log      %s: %d records; ends in a commit cut short by a crash, never acknowledged (ignored)\n", s.Name, s.Records)
		default:
			fmt.Fprintf(w, "log      %s: %d records, not yet checkpointed\n", s.Name, s.Records)
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "DAMAGE   %s\n", p)
	}
	if n := r.Unlisted(); n > 0 {
		fmt.Fprintf(w, "DAMAGE   … and %d more\n", n)
	}
	if r.Damage() {
		fmt.Fprintln(w, "result   damaged")
	} else {
		fmt.Fprintln(w, "result   ok, no damage found")
	}
}

// runConsole is the default command: engine, demo stream, producers,
// consumers and the console, shut down in order when the user quits.
func runConsole(store storeFlags, stream string, seed int64, listen string, maxConns int) (err error) {
	if !isatty.IsTerminal(os.Stdin.Fd()) || !isatty.IsTerminal(os.Stdout.Fd()) {
		return errors.New("the console needs a terminal on stdin and stdout; for a headless server run `shardscope serve`")
	}
	clock := engine.NewOffsetClock(nil)
	db, e, err := store.open(clock, compressScaling)
	if err != nil {
		return err
	}
	defer closeStore(db, &err)
	defer e.Close()
	ctx := context.Background()
	if err := ensureStream(ctx, e, stream, 4); err != nil {
		return err
	}
	prods := producers.DefaultsWith(e, stream, producers.Config{Seed: seed, Clock: clock})
	cons := consumers.DefaultsWith(e, nil, stream, embedded.ConsumerConfig(db, clock))
	tap := e.NewTap(4096)
	defer tap.Close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := prods.Start(runCtx); err != nil {
		return err
	}
	cons.Start(runCtx)
	defer func() {
		// Producers first so consumers can checkpoint what was written.
		prods.Stop()
		cons.Stop()
	}()

	endpoint := ""
	if listen != "" {
		// The console owns the terminal, so the server logs nothing there;
		// its traffic shows in the panes instead.
		ln, err := listenLoopbackByDefault(listen)
		if err != nil {
			return err
		}
		endpoint = "http://" + ln.Addr().String()
		served := make(chan error, 1)
		srv := &api.Server{Handler: api.NewHandler(e, api.Options{}), MaxConns: maxConns}
		go func() { served <- srv.Serve(runCtx, ln) }()
		defer func() { cancel(); <-served }()
	}

	b := embedded.New(runCtx, embedded.Config{Engine: e, DB: db, Clock: clock, Tap: tap, Producers: prods, Consumers: cons})
	return ui.Run(b, ui.Options{Stream: stream, Endpoint: endpoint})
}

// listenLoopbackByDefault listens on addr; a bare port means loopback.
func listenLoopbackByDefault(addr string) (net.Listener, error) {
	if !strings.Contains(addr, ":") {
		addr = "127.0.0.1:" + addr
	} else if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

func repairCommand() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Salvage a store whose write-ahead log is damaged",
		Long: `repair rewrites every damaged write-ahead log segment of a store with the
frames that still check out (CRC and salt), so that the store opens again,
and says how many acknowledged records were lost. Each damaged file is kept
beside the store as "<segment>.damaged". The store must not be open.
A store whose log is intact is left as it is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path := db
			if path == "" {
				var err error
				if path, err = xdg.DataFile(filepath.Join("shardscope", "shardscope.db")); err != nil {
					return fmt.Errorf("default store path: %w", err)
				}
			}
			rep, err := storage.Repair(path)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !rep.Damaged() {
				fmt.Fprintf(out, "%s: the write-ahead log is intact (%d segments); nothing to repair\n", path, len(rep.Segments))
				return nil
			}
			var kept, lost, uncounted int
			for _, s := range rep.Segments {
				if s.Damage == "" {
					continue
				}
				fmt.Fprintf(out, "%s: %s; kept %s in %s, lost %s in %s",
					s.Name, s.Damage, count(s.Records, "record"), count(s.Frames, "frame"), count(s.LostRecords, "record"), count(s.LostFrames, "frame"))
				if s.LostUncounted > 0 {
					fmt.Fprintf(out, " (%d damaged stretches could not be counted)", s.LostUncounted)
				}
				fmt.Fprintf(out, "; the damaged file is kept as %s.damaged\n", s.Name)
				kept += s.Records
				lost += s.LostRecords
				uncounted += s.LostUncounted
			}
			fmt.Fprintf(out, "repaired: %s kept, %s lost", count(kept, "record"), count(lost, "record"))
			if uncounted > 0 {
				fmt.Fprintf(out, ", and %d damaged stretches whose records could not be counted", uncounted)
			}
			fmt.Fprintln(out)
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "store file (default: $XDG_DATA_HOME/shardscope/shardscope.db)")
	return cmd
}

// closeStore closes the store at the end of a command; a failure (the
// final checkpoint could not be written, e.g. a full disk) becomes the
// command's error, so shardscope exits non-zero and says so.
func closeStore(db *storage.DB, err *error) {
	if cerr := db.Close(); cerr != nil {
		cerr = fmt.Errorf("closing the store: %w (acknowledged records stay in the write-ahead log and are replayed at the next start)", cerr)
		*err = errors.Join(*err, cerr)
	}
}

func serveCommand() *cobra.Command {
	var store storeFlags
	var listen, level string
	var maxConns int
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Kinesis API headless (AWS SDKs, the AWS CLI and boto3 work against it)",
		Long: `serve runs the engine without the console and serves the Kinesis wire
protocol (AWS JSON 1.1 and CBOR, HTTP/1.1 and cleartext HTTP/2) on one
port. Point any Kinesis client at it, for example:

  aws kinesis list-streams --endpoint-url http://127.0.0.1:4567

It listens on loopback unless told otherwise (":4567" and "4567" mean
127.0.0.1:4567; use 0.0.0.0:4567 to accept other hosts). SIGINT or SIGTERM
stops it gracefully: in-flight requests finish and the store closes cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) (err error) {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(level)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Headless, the engine's events (clock jumps, trims, throttling,
			// storage failures) go to the log instead of the events pane.
			db, e, err := store.open(nil, func(o *engine.Options) { o.Logger = logger })
			if err != nil {
				return err
			}
			defer closeStore(db, &err)
			defer e.Close()
			ln, err := listenLoopbackByDefault(listen)
			if err != nil {
				return err
			}
			logger.Info("shardscope serving", "addr", ln.Addr().String(), "db", db.Path(), "sync", db.SyncMode().String(), "limits", !store.noLimits, "version", versionString())
			srv := &api.Server{Handler: api.NewHandler(e, api.Options{Logger: logger}), Logger: logger, MaxConns: maxConns}
			err = srv.Serve(ctx, ln)
			logger.Info("shardscope stopped")
			return err
		},
	}
	store.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4567", "address to serve on")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error (debug logs every request)")
	cmd.Flags().IntVar(&maxConns, "max-conns", api.DefaultMaxConns, "most connections served at once; more wait to be accepted (negative: no cap)")
	return cmd
}

func benchCommand() *cobra.Command {
	var cfg loadgen.Config
	var syncMode string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Drive a Kinesis endpoint through the AWS SDK and print one summary line",
		Long: `bench creates a stream, runs producers (PutRecords) and polling consumers
(GetRecords) against a Kinesis endpoint through the AWS SDK for Go, then
prints put records/s and MB/s, throttled records, errors, consumed
records/s and the put→get latency. Without --endpoint it starts an
embedded shardscope (limits off, a temporary store) on a loopback port and
measures that the same way: over HTTP, through the SDK.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cfg.Endpoint == "" {
				dir, err := os.MkdirTemp("", "shardscope-bench")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				store := storeFlags{db: filepath.Join(dir, "bench.db"), sync: syncMode, noLimits: true}
				db, e, err := store.open(nil, nil)
				if err != nil {
					return err
				}
				defer db.Close()
				defer e.Close()
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return err
				}
				sctx, cancel := context.WithCancel(ctx)
				served := make(chan error, 1)
				go func() { served <- api.Serve(sctx, ln, api.NewHandler(e, api.Options{}), nil) }()
				defer func() { cancel(); <-served }()
				cfg.Endpoint = "http://" + ln.Addr().String()
			}
			res, err := loadgen.Run(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res)
			if res.LastError != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "last error:", res.LastError)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Endpoint, "endpoint", "", "Kinesis endpoint URL (default: an embedded shardscope)")
	f.IntVar(&cfg.Shards, "shards", 4, "shards of the bench stream")
	f.IntVar(&cfg.Producers, "producers", 4, "concurrent producers")
	f.IntVar(&cfg.Batch, "batch", 100, "records per PutRecords call")
	f.IntVar(&cfg.Size, "size", 100, "bytes of data per record")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long producers run")
	f.IntVar(&cfg.Consumers, "consumers", 1, "polling consumers, each reading every shard")
	f.DurationVar(&cfg.Poll, "poll", 10*time.Millisecond, "how often a consumer polls each shard")
	f.StringVar(&syncMode, "sync", "always", "durability of the embedded store: always or none")
	return cmd
}

// compressScaling makes the on-demand scaler react in seconds instead of
// the service's minutes, so a demo shows a scale-up within a minute. The
// service's own pace is the engine's default (see README).
func compressScaling(o *engine.Options) {
	o.ScaleInterval = 2 * time.Second
	o.ScaleUpWindow = 20 * time.Second
	o.ScaleCooldown = 20 * time.Second
	o.ScaleDownWindow = 2 * time.Minute
}

// ensureStream creates the stream with n shards unless it exists.
func ensureStream(ctx context.Context, e *engine.Engine, name string, n int) error {
	err := e.CreateStream(ctx, engine.CreateStreamInput{StreamName: name, ShardCount: n})
	if err != nil && !engine.IsCode(err, engine.ResourceInUseException) {
		return fmt.Errorf("create stream %s: %w", name, err)
	}
	return nil
}
