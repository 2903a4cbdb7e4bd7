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
	"math"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/adrg/xdg"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/shardscope/shardscope/api"
	"github.com/shardscope/shardscope/api/loadgen"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/engine/kms"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
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
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano()
			}
			return runConsole(store, stream, seed, listen, maxConns)
		},
	}
	store.register(root)
	root.Flags().Int64Var(&seed, "seed", 0, "seed for the producers (same seed, same records)")
	root.Flags().StringVar(&stream, "stream", "demo", "stream to create if missing and to watch")
	root.Flags().StringVar(&listen, "listen", "", "also serve the Kinesis API on this address (e.g. 127.0.0.1:4567)")
	root.Flags().IntVar(&maxConns, "max-conns", api.DefaultMaxConns, "with --listen: most connections served at once (more wait to be accepted)")
	root.AddCommand(serveCommand(), benchCommand(), repairCommand(), checkCommand(), keysCommand())
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
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
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
	cons := consumers.DefaultsWith(e, nil, stream, consumerConfig(db, clock))
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

	b := &consoleBackend{e: e, db: db, clock: clock, tap: tap, prods: prods, cons: cons, ctx: runCtx}
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

// keysCommand manages the keyring of encryption at rest (engine/kms), the
// file beside the store; it works while a server runs on the store, which
// sees the change within a second.
func keysCommand() *cobra.Command {
	var db string
	open := func() (*kms.Keyring, error) {
		path := db
		if path == "" {
			var err error
			if path, err = xdg.DataFile(filepath.Join("shardscope", "shardscope.db")); err != nil {
				return nil, fmt.Errorf("default store path: %w", err)
			}
		}
		return kms.Open(kms.PathFor(path), kms.Options{})
	}
	// one makes a subcommand acting on one key.
	one := func(use, short string, do func(kr *kms.Keyring, key string) (string, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " KEY", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				kr, err := open()
				if err != nil {
					return err
				}
				msg, err := do(kr, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), msg)
				return nil
			},
		}
	}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the KMS-style keys that encrypt streams at rest",
		Long: `keys manages the keyring beside the store (<store>.keys, mode 0600): the
256-bit keys StartStreamEncryption names by key id, key ARN, alias/NAME or
alias ARN. alias/aws/kinesis is created the first time a stream asks for it.
A KEY argument takes any of those forms. Changes reach a running server on
the same store within a second: a disabled key fails writes and reads with
KMSDisabledException until it is enabled again.`,
	}
	cmd.PersistentFlags().StringVar(&db, "db", "", "store file (default: $XDG_DATA_HOME/shardscope/shardscope.db)")
	list := &cobra.Command{
		Use: "list", Short: "List keys: id, state, aliases, rotations, ARN", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := open()
			if err != nil {
				return err
			}
			keys, err := kr.List()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KEY ID\tSTATE\tALIASES\tROTATIONS\tCREATED\tARN")
			for _, k := range keys {
				state := string(k.State)
				if k.Managed {
					state += " (AWS managed)"
				}
				if !k.DeletionDate.IsZero() {
					state += " until " + k.DeletionDate.Format(time.DateOnly)
				}
				rot := "none"
				if n := len(k.Rotations); n > 0 {
					rot = fmt.Sprintf("%d, last %s", n, k.Rotations[n-1].Format(time.DateTime))
				}
				aliases := strings.Join(k.Aliases, ",")
				if aliases == "" {
					aliases = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, state, aliases, rot, k.Created.Format(time.DateTime), k.ARN)
			}
			if len(keys) == 0 {
				fmt.Fprintf(w, "(no keys in %s)\n", kr.Path())
			}
			return w.Flush()
		},
	}
	var desc, alias string
	create := &cobra.Command{
		Use: "create", Short: "Create an enabled key and print its id and ARN", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := open()
			if err != nil {
				return err
			}
			k, err := kr.Create(desc)
			if err != nil {
				return err
			}
			if alias != "" {
				if err := kr.SetAlias(alias, k.ID); err != nil {
					return fmt.Errorf("key %s created, but: %w", k.ID, err)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", k.ID, k.ARN)
			return nil
		},
	}
	create.Flags().StringVar(&desc, "description", "", "what the key is for")
	create.Flags().StringVar(&alias, "alias", "", "also give it this alias (alias/NAME)")
	aliasCmd := &cobra.Command{
		Use: "alias ALIAS KEY", Short: "Point alias/NAME at a key (creating or moving the alias)", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := open()
			if err != nil {
				return err
			}
			if err := kr.SetAlias(args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s → %s\n", args[0], args[1])
			return nil
		},
	}
	var days int
	deletion := one("schedule-deletion", "Make a key PendingDeletion; after --days it is gone, and so are the records it sealed", func(kr *kms.Keyring, key string) (string, error) {
		when, err := kr.ScheduleDeletion(key, days)
		return fmt.Sprintf("%s is pending deletion until %s", key, when.Format(time.DateTime)), err
	})
	deletion.Flags().IntVar(&days, "days", kms.MaxDeletionDays, "waiting period, 7–30 days")
	cmd.AddCommand(list, create, aliasCmd,
		one("disable", "Disable a key: writes and reads of streams it protects fail until enabled", func(kr *kms.Keyring, key string) (string, error) {
			return key + " disabled", kr.Disable(key)
		}),
		one("enable", "Enable a disabled key", func(kr *kms.Keyring, key string) (string, error) {
			return key + " enabled", kr.Enable(key)
		}),
		one("rotate", "Give a key new material; older records stay readable", func(kr *kms.Keyring, key string) (string, error) {
			return key + " rotated", kr.Rotate(key)
		}),
		deletion,
		one("cancel-deletion", "Take a key out of PendingDeletion (it is then disabled)", func(kr *kms.Keyring, key string) (string, error) {
			return key + " is no longer pending deletion; it is disabled", kr.CancelDeletion(key)
		}),
	)
	return cmd
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

// consoleLeaseDuration is how long a consumer worker's lease lasts without
// renewal in the console: short, so a stopped worker's leases visibly move
// within seconds (the KCL's default is 10 s).
const consoleLeaseDuration = 6 * time.Second

// consumerConfig is how the console's consumer applications run: two
// workers each, leases and checkpoints kept in the store.
func consumerConfig(db *storage.DB, clock engine.Clock) consumers.Config {
	return consumers.Config{
		Clock: clock, Workers: 2, Leases: consumers.NewMetaLeases(db),
		LeaseDuration: consoleLeaseDuration, RenewInterval: 2 * time.Second, TakeInterval: 3 * time.Second,
	}
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

// consoleBackend adapts the engine, the producers and the consumers to
// what the console needs.
type consoleBackend struct {
	e     *engine.Engine
	db    *storage.DB
	clock *engine.OffsetClock
	tap   *engine.Tap
	prods *producers.Set
	cons  *consumers.Group
	ctx   context.Context // ends when the console closes

	mu       sync.Mutex // guards what follows
	throttle map[string]*throttleWindow
	added    int // consumers added from the keyboard, for their names
}

var _ ui.Backend = (*consoleBackend)(nil)

func (b *consoleBackend) Snapshot() engine.Snapshot { return b.e.Snapshot() }

func (b *consoleBackend) DrainFeed(dst []engine.TapRecord) []engine.TapRecord {
	return b.tap.Drain(dst)
}

func (b *consoleBackend) FeedDropped() uint64 { return b.tap.Dropped() }

func (b *consoleBackend) Producers() []ui.ProducerView {
	var out []ui.ProducerView
	for _, s := range b.prods.Stats() {
		out = append(out, ui.ProducerView{
			Name: s.Name, On: s.On, Rate: s.Rate, ActualRate: s.ActualRate, Skew: s.Skew,
			Sent: int64(s.Sent), Throttled: int64(s.Throttled), Retried: int64(s.Retried), GivenUp: int64(s.GivenUp),
			Errors: int64(s.Errors), Bursting: s.Bursting, Aggregating: s.Aggregating, LastError: s.LastError,
		})
	}
	return out
}

func (b *consoleBackend) Consumers() []ui.ConsumerView {
	now := time.Now()
	var out []ui.ConsumerView
	for _, app := range b.cons.All() {
		s := app.Stats()
		v := ui.ConsumerView{
			Name: s.App, Stream: s.Stream, Kind: ui.KindPolling,
			Lag:        time.Duration(s.MaxLagMillis) * time.Millisecond,
			ShardsDone: s.Count(consumers.StateReading) + s.Count(consumers.StateEnded), Shards: len(s.Shards),
			Records: s.Records, Throttled: s.Throttled, ReadThrottled: b.throttleRate(s.App, s.Throttled, now),
			PerShardLag: map[string]time.Duration{},
		}
		if s.FanOut {
			v.Kind = ui.KindFanOut
		}
		for _, w := range s.Workers {
			v.Workers = append(v.Workers, ui.WorkerView{ID: w.ID, Leases: w.Leases, Stopped: w.State == consumers.WorkerStopped || w.State == consumers.WorkerCrashed})
		}
		for _, sh := range s.Shards {
			lag := time.Duration(sh.MillisBehindLatest) * time.Millisecond
			v.PerShard = append(v.PerShard, ui.ShardLagView{ShardID: sh.ShardID, Lag: lag, Checkpoint: sh.LastCheckpoint, Owner: sh.Owner})
			if sh.State == consumers.StateReading {
				v.PerShardLag[sh.ShardID] = lag
			}
		}
		v.Summary = consumerLines(app.Processor())
		out = append(out, v)
	}
	return out
}

// throttleRate turns an app's running count of throttled reads into reads
// refused per second, measured over windows of at least a second.
func (b *consoleBackend) throttleRate(app string, total int64, now time.Time) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.throttle == nil {
		b.throttle = map[string]*throttleWindow{}
	}
	w := b.throttle[app]
	if w == nil {
		w = &throttleWindow{total: total, at: now}
		b.throttle[app] = w
	}
	if d := now.Sub(w.at); d >= time.Second {
		w.rate = int64(float64(total-w.total) / d.Seconds())
		w.total, w.at = total, now
	}
	return w.rate
}

type throttleWindow struct {
	total, rate int64
	at          time.Time
}

// consumerLines are the live results of a built-in processor, one to three lines.
func consumerLines(p consumers.Processor) []string {
	switch p := p.(type) {
	case *consumers.PageStats:
		r := p.Result()
		return []string{r.Summary(), fmt.Sprintf("active sessions %d · %.0f events/s", r.ActiveSessions, r.EventsPerSecond)}
	case *consumers.IoTAlerts:
		r := p.Result()
		lines := []string{fmt.Sprintf("%d alerts · %d devices in the last minute", r.AlertCount, r.Devices)}
		for i, a := range r.Alerts {
			if i == 2 {
				break
			}
			lines = append(lines, "⚠ "+a.String())
		}
		return lines
	case *consumers.LogStats:
		r := p.Result()
		svcs := append([]consumers.ServiceStats(nil), r.Services...)
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].ErrorRate > svcs[j].ErrorRate })
		var parts []string
		for i, s := range svcs {
			if i == 2 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s err %.1f%% p99 %.0fms", s.Service, 100*s.ErrorRate, s.P99))
		}
		return []string{strings.Join(parts, "  "), fmt.Sprintf("%d requests in the last minute", r.Requests)}
	}
	if s, ok := p.(consumers.Summarizer); ok {
		return []string{s.Summary()}
	}
	return nil
}

func (b *consoleBackend) stream(name string) engine.StreamRef {
	return engine.StreamRef{StreamName: name}
}

func (b *consoleBackend) SplitShard(stream, shardID string) (string, error) {
	ctx := context.Background()
	ls, err := b.e.ListShards(ctx, engine.ListShardsInput{StreamRef: b.stream(stream), Filter: &engine.ShardFilter{Type: engine.FilterAtLatest}})
	if err != nil {
		return "", err
	}
	for _, sh := range ls.Shards {
		if sh.ShardID == shardID {
			at := engine.MidpointKey(sh.HashKeyRange)
			if err := b.e.SplitShard(ctx, engine.SplitShardInput{StreamRef: b.stream(stream), ShardToSplit: shardID, NewStartingHashKey: at}); err != nil {
				return "", err
			}
			return fmt.Sprintf("split %s at the middle of its hash range", shardID), nil
		}
	}
	return "", fmt.Errorf("%s is not an open shard of %s", shardID, stream)
}

func (b *consoleBackend) MergeShards(stream, shardID, adjacentShardID string) (string, error) {
	err := b.e.MergeShards(context.Background(), engine.MergeShardsInput{StreamRef: b.stream(stream), ShardToMerge: shardID, AdjacentShardToMerge: adjacentShardID})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("merged %s with %s", shardID, adjacentShardID), nil
}

func (b *consoleBackend) SetRetention(stream string, hours int) (string, error) {
	ctx := context.Background()
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	in := engine.RetentionInput{StreamRef: b.stream(stream), RetentionPeriodHours: hours}
	switch {
	case hours > sum.RetentionPeriodHours:
		err = b.e.IncreaseStreamRetentionPeriod(ctx, in)
	case hours < sum.RetentionPeriodHours:
		err = b.e.DecreaseStreamRetentionPeriod(ctx, in)
	default:
		return fmt.Sprintf("retention is already %dh", hours), nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("retention %dh → %dh", sum.RetentionPeriodHours, hours), nil
}

func (b *consoleBackend) TimeLapse(d time.Duration) (string, error) {
	b.clock.Skip(d)
	if err := b.e.ApplyRetention(b.clock.Now()); err != nil {
		return "", err
	}
	return fmt.Sprintf("time-lapse: engine clock +%s (now %s ahead)", d, b.clock.Offset()), nil
}

func (b *consoleBackend) producer(name string) (*producers.Producer, error) {
	p, ok := b.prods.Get(name)
	if !ok {
		return nil, fmt.Errorf("no producer %q", name)
	}
	return p, nil
}

func (b *consoleBackend) ProducerScale(name string, factor float64) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	r := p.Scale(factor)
	return fmt.Sprintf("%s rate → %s records/s", name, formatRate(r)), nil
}

func (b *consoleBackend) ProducerBurst(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	p.Burst(10, 5*time.Second)
	return fmt.Sprintf("%s bursting ×10 for 5 s", name), nil
}

func (b *consoleBackend) ProducerToggle(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.Toggle() {
		return name + " on", nil
	}
	return name + " off", nil
}

func (b *consoleBackend) ProducerCycleSkew(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s key skew → %s", name, p.CycleSkew()), nil
}

func (b *consoleBackend) ProducerToggleAggregate(name string) (string, error) {
	p, err := b.producer(name)
	if err != nil {
		return "", err
	}
	if p.ToggleAggregate() {
		return name + " KPL aggregation on (consumers de-aggregate)", nil
	}
	return name + " KPL aggregation off", nil
}

func (b *consoleBackend) ToggleCapacityMode(stream string) (string, error) {
	ctx := context.Background()
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	to := engine.ModeOnDemand
	if sum.StreamMode == engine.ModeOnDemand {
		to = engine.ModeProvisioned
	}
	if err := b.e.UpdateStreamMode(ctx, engine.UpdateStreamModeInput{StreamARN: sum.StreamARN, Mode: to}); err != nil {
		return "", err
	}
	if to == engine.ModeOnDemand {
		return fmt.Sprintf("%s is ON_DEMAND now: the scaler splits shards that stay hot (demo pace: 20 s)", stream), nil
	}
	return fmt.Sprintf("%s is PROVISIONED now: it keeps its %d open shards", stream, sum.OpenShardCount), nil
}

// AddConsumer starts another consumer application on the stream, polling
// (sharing each shard's 5 reads/s and 2 MiB/s) or enhanced fan-out (a
// registered consumer with its own 2 MiB/s per shard). Each runs the log
// statistics processor, so its work is comparable.
func (b *consoleBackend) AddConsumer(stream string, fanOut bool) (string, error) {
	b.mu.Lock()
	b.added++
	kind := "poll"
	if fanOut {
		kind = "fanout"
	}
	name := fmt.Sprintf("%s-%d", kind, b.added)
	b.mu.Unlock()
	cfg := consumerConfig(b.db, b.clock)
	cfg.FanOut = fanOut
	app := consumers.NewApp(name, stream, consumers.NewLogStats(b.clock), b.e, nil, cfg)
	if err := b.cons.Add(app); err != nil {
		return "", err
	}
	if fanOut {
		return fmt.Sprintf("started %s: an enhanced fan-out consumer with its own 2 MiB/s per shard", name), nil
	}
	return fmt.Sprintf("started %s: a polling consumer sharing each shard's 5 reads/s", name), nil
}

// RemoveConsumer stops a consumer application and forgets it; a fan-out
// one's registration is removed too. A registered consumer that no
// application here owns (one an outside client made) is deregistered.
func (b *consoleBackend) RemoveConsumer(stream, name string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if b.cons.App(name) != nil {
		if err := b.cons.Remove(ctx, name); err != nil {
			return "", err
		}
		return fmt.Sprintf("stopped %s: its leases were handed back with their checkpoints", name), nil
	}
	sum, err := b.e.DescribeStreamSummary(ctx, b.stream(stream))
	if err != nil {
		return "", err
	}
	if err := b.e.DeregisterStreamConsumer(ctx, engine.ConsumerRef{StreamARN: sum.StreamARN, ConsumerName: name}); err != nil {
		return "", err
	}
	return fmt.Sprintf("deregistered the stream consumer %s", name), nil
}

// StopWorker stops a worker abruptly, as a crash would: it stops renewing
// without handing its leases back, so they move once they expire.
func (b *consoleBackend) StopWorker(app, worker string) (string, error) {
	a := b.cons.App(app)
	if a == nil {
		return "", fmt.Errorf("no consumer application %q", app)
	}
	if err := a.CrashWorker(worker); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s stopped renewing its leases: they expire in %s and move to another worker", app, worker, consoleLeaseDuration), nil
}

func formatRate(r float64) string {
	if r >= 1000 {
		return fmt.Sprintf("%.1fk", r/1000)
	}
	return fmt.Sprintf("%.0f", math.Round(r))
}
