// Command shardscope runs an embedded Kinesis Data Streams–style engine with
// a live terminal console on top. main only wires the parts together: it
// parses the command line, opens the store, starts the engine, the
// producers and the consumers, runs the console, and shuts everything down
// in order.
package main

import (
	"context"
	"crypto/tls"
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
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/adrg/xdg"
	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/shardscope/shardscope/api"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/api/loadgen"
	"github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/tlscert"
	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/consumers/deliver"
	"github.com/shardscope/shardscope/consumers/trigger"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/engine/kms"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/producers/agent"
	"github.com/shardscope/shardscope/storage"
	"github.com/shardscope/shardscope/ui"
	"github.com/shardscope/shardscope/ui/embedded"
	uiremote "github.com/shardscope/shardscope/ui/remote"
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
	var stream, listen, aroundPath string
	var maxConns int
	var sec securityFlags
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
			if sec.any() && listen == "" {
				return errors.New("--auth, --policy and --tls-* apply to the API: give --listen too")
			}
			return runConsole(store, stream, seed, listen, maxConns, sec, aroundPath)
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
	root.Flags().StringVar(&aroundPath, "config", "", "also run the triggers, deliveries and Kinesis Agent a YAML file declares (see README, Around the stream)")
	root.Flags().IntVar(&maxConns, "max-conns", api.DefaultMaxConns, "with --listen: most connections served at once (more wait to be accepted)")
	sec.register(root, "with --listen: ")
	root.AddCommand(serveCommand(), benchCommand(), repairCommand(), checkCommand(), attachCommand(), keysCommand())
	root.AddCommand(agentCommand(), deliverCommand(), triggerCommand())
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
func runConsole(store storeFlags, stream string, seed int64, listen string, maxConns int, secFlags securityFlags, aroundPath string) (err error) {
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
	var around *embedded.Around
	if aroundPath != "" {
		if around, err = embedded.LoadAround(runCtx, aroundPath, e, db, stream); err != nil {
			prods.Stop()
			cons.Stop()
			return err
		}
		aroundCtx, stopAround := context.WithCancel(runCtx)
		around.Start(aroundCtx)
		defer func() {
			// The agent, triggers and deliveries stop before the store
			// closes; the deferred Stop below runs first.
			stopAround()
			if werr := around.Wait(); werr != nil && err == nil {
				err = werr
			}
		}()
	}
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
		sec, err := secFlags.build(e, db.Path(), ln)
		if err != nil {
			ln.Close()
			return err
		}
		for _, line := range sec.describe() {
			// Printed before the console takes the screen and again after.
			fmt.Fprintln(os.Stderr, "shardscope:", line)
			defer fmt.Fprintln(os.Stderr, "shardscope:", line)
		}
		endpoint = sec.scheme() + "://" + ln.Addr().String()
		served := make(chan error, 1)
		srv := &api.Server{Handler: api.NewHandler(e, sec.opts), MaxConns: maxConns, TLS: sec.tls}
		go func() { served <- srv.Serve(runCtx, ln) }()
		defer func() { cancel(); <-served }()
	}

	b := embedded.New(runCtx, embedded.Config{Engine: e, DB: db, Clock: clock, Tap: tap, Producers: prods, Consumers: cons, Around: around})
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

func attachCommand() *cobra.Command {
	var o uiremote.AttachOptions
	var from string
	cmd := &cobra.Command{
		Use:   "attach --stream NAME",
		Short: "Open the console on a real Kinesis stream (AWS, LocalStack, another shardscope)",
		Long: `attach opens the console on a stream shardscope does not run, through the
AWS SDK's default credential chain. It is read-only unless --allow-writes:
it polls GetRecords at most once a second per shard (20 % of a shard's
5 reads/s), or reads through an enhanced fan-out consumer with --efo.
No store file is opened. See README, "Outgrowing the laptop".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := uiremote.ParseFrom(from)
			if err != nil {
				return err
			}
			o.From = f
			return uiremote.Attach(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Stream, "stream", "", "stream to attach to (required)")
	fl.StringVar(&o.Client.Region, "region", "", "AWS region (default: the SDK's chain, AWS_REGION or the profile)")
	fl.StringVar(&o.Client.Profile, "profile", "", "shared config profile")
	fl.StringVar(&o.Client.Endpoint, "endpoint", "", "endpoint URL (LocalStack, kinesalite, shardscope serve)")
	fl.StringVar(&from, "from", "latest", "where to start reading: trim-horizon, latest, at-timestamp=RFC3339, at-sequence=N")
	fl.StringVar(&o.EFO, "efo", "", "read with SubscribeToShard through this fan-out consumer (registered if missing, deregistered on exit only then)")
	fl.BoolVar(&o.Client.AllowWrites, "allow-writes", false, "allow reshards, retention, capacity mode and synthetic producers (each confirmed)")
	fl.Float64Var(&o.MaxRate, "max-rate", 100, "with --allow-writes: most records/s all synthetic producers send together")
	fl.StringVar(&o.LeaseTable, "lease-table", "", "a KCL application's lease table in DynamoDB: its workers, leases, checkpoints and lag in the consumers pane")
	fl.StringVar(&o.DynamoDBEndpoint, "dynamodb-endpoint", "", "with --lease-table: a local DynamoDB (dynalite, DynamoDB Local); default AWS")
	return cmd
}

// endpointFlags are how the commands that reach a stream over the wire
// find it: --endpoint (a console's --listen, shardscope serve, LocalStack)
// or AWS through the SDK's default credential chain.
func endpointFlags(cmd *cobra.Command, o *remote.Options) {
	fl := cmd.Flags()
	fl.StringVar(&o.Endpoint, "endpoint", "", "Kinesis endpoint URL (a console's --listen, shardscope serve); default AWS")
	fl.StringVar(&o.Region, "region", "", "AWS region (default: the SDK's chain)")
	fl.StringVar(&o.Profile, "profile", "", "shared config profile")
}

// every calls fn each period until ctx ends.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func agentCommand() *cobra.Command {
	var cfgPath, file, stream, checkpoints string
	var startOfFile bool
	var bufferAge time.Duration
	var co remote.Options
	cmd := &cobra.Command{
		Use:   "agent (--config agent.json | --file GLOB --stream NAME)",
		Short: "Tail log files into a stream, as the Kinesis Agent does",
		Long: `agent tails files into a stream like the Amazon Kinesis Agent: it reads
the agent's agent.json (flows, dataProcessingOptions, checkpointFile,
kinesis.endpoint), follows files across rename and truncate rotation,
checkpoints acknowledged offsets, and resends refused records with backoff.
See README, "Around the stream".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var cfg *agent.Config
			switch {
			case cfgPath != "" && file == "":
				var err error
				if cfg, err = agent.LoadConfig(cfgPath); err != nil {
					return err
				}
			case cfgPath == "" && file != "" && stream != "":
				f, err := agent.NewFlow(file, stream)
				if err != nil {
					return err
				}
				f.StartAtEnd = !startOfFile
				if bufferAge < time.Second || bufferAge > 15*time.Minute {
					return fmt.Errorf("--max-buffer-age %v: want 1s–15m", bufferAge)
				}
				f.MaxBufferAge = bufferAge
				cfg = &agent.Config{Flows: []agent.Flow{f}}
			default:
				return errors.New("give --config agent.json, or --file GLOB and --stream NAME")
			}
			if checkpoints != "" {
				cfg.CheckpointFile = checkpoints
			}
			if cfg.CheckpointFile == "" {
				p, err := xdg.StateFile(filepath.Join("shardscope", "agent-checkpoints.json"))
				if err != nil {
					return fmt.Errorf("default checkpoint file: %w", err)
				}
				cfg.CheckpointFile = p
			}
			if co.Endpoint == "" {
				co.Endpoint = cfg.Endpoint
			}
			if co.Region == "" {
				co.Region = cfg.Region
			}
			co.AllowWrites = true
			errOut := cmd.ErrOrStderr()
			if len(cfg.Ignored) > 0 {
				fmt.Fprintf(errOut, "agent: ignoring keys that mean nothing here: %s\n", strings.Join(cfg.Ignored, ", "))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			client, err := remote.New(ctx, co)
			if err != nil {
				return err
			}
			var logMu sync.Mutex
			logf := func(format string, args ...any) {
				logMu.Lock()
				defer logMu.Unlock()
				fmt.Fprintf(errOut, time.Now().Format("15:04:05")+" "+format+"\n", args...)
			}
			a, err := agent.New(cfg, client, agent.Options{Events: func(s string) { logf("%s", s) }})
			if err != nil {
				return err
			}
			// The agent's status line, every 30 s as its log does.
			go every(ctx, 30*time.Second, func() {
				for _, st := range a.Stats() {
					logf("%s → %s: %d parsed, %d sent (%s), %d resent, %d skipped; %d files, %d bytes behind%s",
						st.Pattern, st.Stream, st.Parsed, st.Sent, formatBytes(st.BytesSent), st.Resent, st.Skipped, st.Files, st.BytesBehind, lastErr(st.LastError))
				}
			})
			logf("tailing %d flow(s); checkpoints in %s", len(cfg.Flows), cfg.CheckpointFile)
			return a.Run(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfgPath, "config", "", "an agent.json")
	fl.StringVar(&file, "file", "", "files to tail (a glob on the name; the directory is literal)")
	fl.StringVar(&stream, "stream", "", "with --file: the stream to send to")
	fl.BoolVar(&startOfFile, "start-of-file", false, "with --file: on a first start read the files from their beginning (default: only what comes next)")
	fl.DurationVar(&bufferAge, "max-buffer-age", time.Minute, "with --file: send a buffer this old even if not full (the agent's maxBufferAgeMillis)")
	fl.StringVar(&checkpoints, "checkpoint-file", "", "where offsets are kept (default: the config's, else in the XDG state directory)")
	endpointFlags(cmd, &co)
	return cmd
}

func lastErr(s string) string {
	if s == "" {
		return ""
	}
	return "; last error: " + s
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func deliverCommand() *cobra.Command {
	var stream, to, name, from, state string
	var interval int
	var set deliver.Settings
	var do deliver.DestinationOptions
	var co remote.Options
	cmd := &cobra.Command{
		Use:   "deliver --stream NAME --to DEST",
		Short: "Deliver a stream to a directory, S3 or PostgreSQL, as Firehose does",
		Long: `deliver reads a stream as a consumer application (leases and checkpoints
kept in a state file of its own) and delivers its records in buffered
batches: --to file:///DIR, s3://BUCKET/PREFIX or postgres://… (with
--table). Exactly once where the destination allows it. See README,
"Around the stream".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if stream == "" || to == "" {
				return errors.New("give --stream NAME and --to DEST")
			}
			if name == "" {
				name = "deliver-" + stream
			}
			set.BufferInterval = time.Duration(interval) * time.Second
			start, at, err := startFrom(from)
			if err != nil {
				return err
			}
			if state == "" {
				p, err := xdg.StateFile(filepath.Join("shardscope", name+".db"))
				if err != nil {
					return fmt.Errorf("default state file: %w", err)
				}
				state = p
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			client, err := remote.New(ctx, co)
			if err != nil {
				return err
			}
			do.App = name
			do.Region, do.Profile = co.Region, co.Profile
			dest, prefix, err := deliver.Open(ctx, to, do)
			if err != nil {
				return err
			}
			defer dest.Close()
			if set.Prefix == "" {
				set.Prefix = prefix
			}
			db, err := storage.Open(state, storage.Options{})
			if err != nil {
				return fmt.Errorf("state file: %w", err)
			}
			defer db.Close()
			cfg := consumers.Config{Leases: consumers.NewMetaLeases(db), StartPosition: start, StartTimestamp: at}
			app, d, err := deliver.NewApp(ctx, name, stream, set, dest, client, consumers.NewMetaCheckpoints(db), cfg)
			if err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			fmt.Fprintf(errOut, "delivering %s to %s (buffer %d MiB or %d s); state in %s\n", stream, dest, set.BufferSizeMiB, interval, state)
			go every(ctx, 10*time.Second, func() {
				st := d.Stats()
				fmt.Fprintf(errOut, "%s %d records (%s) in %d objects, %d rows, %d skipped; buffered %s of %s; %d failures%s\n",
					time.Now().Format("15:04:05"), st.Records, formatBytes(st.Bytes), st.Objects, st.Rows, st.Skipped,
					formatBytes(st.Buffered), formatBytes(st.BufferSize), st.Failures, lastErr(st.LastError))
			})
			return app.Run(ctx)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&stream, "stream", "", "the stream to read")
	fl.StringVar(&to, "to", "", "file:///DIR, s3://BUCKET/PREFIX or postgres://USER@HOST:PORT/DB")
	fl.StringVar(&name, "name", "", "the delivery stream's name: object keys, checkpoints (default deliver-STREAM)")
	fl.StringVar(&from, "from", "latest", "where a first start reads from: latest (Firehose's), trim-horizon or at-timestamp=RFC3339")
	fl.StringVar(&state, "state", "", "the file keeping leases and checkpoints (default in the XDG state directory)")
	fl.IntVar(&set.BufferSizeMiB, "buffer-size", deliver.DefaultBufferSizeMiB, "MiB per shard buffer, 1–128")
	fl.IntVar(&interval, "buffer-interval", int(deliver.DefaultBufferInterval/time.Second), "seconds before a buffer goes anyway, 0–900")
	fl.BoolVar(&set.GZIP, "gzip", false, "compress objects (GZIP; .gz appended)")
	fl.BoolVar(&set.NoDelimiter, "no-delimiter", false, "concatenate records without a newline between them")
	fl.StringVar(&set.Prefix, "prefix", "", "Firehose's S3 prefix, with !{timestamp:…} (default the URL's path, then yyyy/MM/dd/HH/)")
	fl.StringVar(&do.S3Endpoint, "s3-endpoint", "", "an S3-compatible server (s3rver, MinIO); default AWS")
	fl.StringVar(&do.Table, "table", "", "PostgreSQL: the table to load")
	fl.StringVar(&do.Columns, "columns", "", "PostgreSQL: col=source,… (JSON field paths or $shardId, $sequenceNumber, $subSequenceNumber, $partitionKey, $arrival, $data, $record); default a made table with a jsonb column")
	endpointFlags(cmd, &co)
	return cmd
}

// startFrom turns --from (as attach takes it) into a consumer start:
// latest, trim-horizon or at-timestamp=RFC3339.
func startFrom(from string) (typ engine.IteratorType, at time.Time, err error) {
	f, err := uiremote.ParseFrom(from)
	if err != nil {
		return "", at, err
	}
	if f.Type == engine.AtSequenceNumber {
		return "", at, fmt.Errorf("--from %s: an application starts at latest, trim-horizon or at-timestamp=RFC3339", from)
	}
	return f.Type, f.At, nil
}

func triggerCommand() *cobra.Command {
	var cfgPath, from, state string
	set := trigger.DefaultSettings("")
	var co remote.Options
	cmd := &cobra.Command{
		Use:   "trigger (--config triggers.yaml | --stream NAME --exec CMD | --url URL)",
		Short: "Run a function on a stream's batches, as Lambda's event source mapping does",
		Long: `trigger reads a stream as a consumer application (leases and checkpoints in a
state file of its own) and hands each batch to a function as the exact
event Lambda sends for Kinesis: a command (--exec, the event on its stdin,
its stdout the reply) or an HTTP endpoint (--url). The mapping's settings
are CreateEventSourceMapping's. See README, "Around the stream".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var all []trigger.Settings
			switch {
			case cfgPath != "" && set.Stream == "":
				var err error
				if all, err = trigger.LoadConfig(cfgPath); err != nil {
					return err
				}
			case cfgPath == "" && set.Stream != "" && (set.Exec != "" || set.URL != ""):
				if cmd.Flags().Changed("from") {
					typ, at, err := startFrom(from)
					if err != nil {
						return err
					}
					set.StartingPosition = string(typ)
					if typ == engine.AtTimestamp {
						set.StartingPositionTimestamp = float64(at.UnixMilli()) / 1000
					}
				}
				all = []trigger.Settings{set}
			default:
				return errors.New("give --config triggers.yaml, or --stream NAME with --exec CMD or --url URL")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			co.AllowWrites = true // an on-failure stream is written to
			client, err := remote.New(ctx, co)
			if err != nil {
				return err
			}
			if state == "" {
				p, err := xdg.StateFile(filepath.Join("shardscope", "triggers.db"))
				if err != nil {
					return fmt.Errorf("default state file: %w", err)
				}
				state = p
			}
			db, err := storage.Open(state, storage.Options{})
			if err != nil {
				return fmt.Errorf("state file: %w", err)
			}
			defer db.Close()
			var triggers []*trigger.Trigger
			for _, s := range all {
				dest, err := trigger.OpenDestination(s.OnFailure, client)
				if err != nil {
					return err
				}
				t, err := trigger.New(client, consumers.NewMetaLeases(db), consumers.NewMetaCheckpoints(db), s, nil, dest)
				if err != nil {
					return err
				}
				triggers = append(triggers, t)
			}
			errOut := cmd.ErrOrStderr()
			go every(ctx, 10*time.Second, func() {
				for _, t := range triggers {
					st := t.Stats()
					fmt.Fprintf(errOut, "%s %s on %s: %.1f invocations/s, %d records, %d errors, %d retries, IteratorAge %d ms, %d on failure%s\n",
						time.Now().Format("15:04:05"), st.Name, st.Stream, st.InvocationsPerSecond, st.Total.Records, st.Total.Errors,
						st.Total.Retries, st.Total.IteratorAgeMillis, st.Total.OnFailure, lastErr(st.Total.LastError))
				}
			})
			errs := make(chan error, len(triggers))
			for _, t := range triggers {
				fmt.Fprintf(errOut, "trigger %s: %s → %s\n", t.Settings().Name, t.Settings().Stream, t.Settings().FunctionName)
				go func() { errs <- t.Run(ctx) }()
			}
			var first error
			for range triggers {
				if err := <-errs; err != nil && first == nil {
					first = err
					stop() // one mapping failed: stop the others too
				}
			}
			return first
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&cfgPath, "config", "", "a triggers file (YAML or JSON): Triggers: [{Stream, Exec or URL, BatchSize, …}]")
	fl.StringVar(&set.Stream, "stream", "", "the stream to read")
	fl.StringVar(&set.Exec, "exec", "", "the function as a command line (run with sh -c): the event on stdin, the reply on stdout")
	fl.StringVar(&set.URL, "url", "", "the function as an HTTP endpoint: the event POSTed, the reply in the body")
	fl.StringVar(&set.Name, "name", "", "the mapping's name: its leases and checkpoints (default trigger-FUNCTION)")
	fl.StringVar(&set.FunctionName, "function-name", "", "the function's name in ARNs and the runner's context")
	fl.StringVar(&from, "from", "latest", "StartingPosition: latest, trim-horizon or at-timestamp=RFC3339")
	fl.IntVar(&set.BatchSize, "batch-size", 100, "BatchSize, 1–10,000")
	fl.IntVar(&set.MaximumBatchingWindowInSeconds, "batching-window", 0, "MaximumBatchingWindowInSeconds, 0–300")
	fl.IntVar(&set.ParallelizationFactor, "parallelization-factor", 1, "ParallelizationFactor, 1–10")
	fl.IntVar(&set.MaximumRetryAttempts, "maximum-retry-attempts", -1, "MaximumRetryAttempts, -1 (until the records expire) to 10,000")
	fl.IntVar(&set.MaximumRecordAgeInSeconds, "maximum-record-age", -1, "MaximumRecordAgeInSeconds, -1 or 60–604,800")
	fl.BoolVar(&set.BisectBatchOnFunctionError, "bisect-batch-on-function-error", false, "BisectBatchOnFunctionError")
	fl.StringSliceVar(&set.FunctionResponseTypes, "function-response-types", nil, "FunctionResponseTypes: ReportBatchItemFailures")
	fl.StringVar(&set.OnFailure, "on-failure", "", "where discarded batches are described: a file, or stream:NAME")
	fl.IntVar(&set.TumblingWindowInSeconds, "tumbling-window", 0, "TumblingWindowInSeconds, 0–900")
	fl.StringVar(&state, "state", "", "the file keeping leases and checkpoints (default in the XDG state directory)")
	endpointFlags(cmd, &co)
	return cmd
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
	var secFlags securityFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Kinesis API headless (AWS SDKs, the AWS CLI and boto3 work against it)",
		Long: `serve runs the engine without the console and serves the Kinesis wire
protocol (AWS JSON 1.1 and CBOR, HTTP/1.1 and cleartext HTTP/2) on one
port. Point any Kinesis client at it, for example:

  aws kinesis list-streams --endpoint-url http://127.0.0.1:4567

It listens on loopback unless told otherwise (":4567" and "4567" mean
127.0.0.1:4567; use 0.0.0.0:4567 to accept other hosts). SIGINT or SIGTERM
stops it gracefully: in-flight requests finish and the store closes cleanly.

--auth checks every request's AWS Signature V4 against a shared-credentials
file, --policy decides signed requests with IAM policies, and --tls-cert/
--tls-key or --tls-self-signed serve HTTPS only (see the README's Security).`,
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
			sec, err := secFlags.build(e, db.Path(), ln)
			if err != nil {
				ln.Close()
				return err
			}
			logger.Info("shardscope serving", "addr", ln.Addr().String(), "endpoint", sec.scheme()+"://"+ln.Addr().String(), "db", db.Path(), "sync", db.SyncMode().String(), "limits", !store.noLimits, "version", versionString())
			for _, line := range sec.describe() {
				logger.Info(line)
			}
			if sec.made {
				logger.Info("made a self-signed certificate; trust it with --ca-bundle "+sec.certFile+" (AWS CLI), verify= (boto3), AWS_CA_BUNDLE or NODE_EXTRA_CA_CERTS", "cert", sec.certFile)
			}
			sec.opts.Logger = logger
			srv := &api.Server{Handler: api.NewHandler(e, sec.opts), Logger: logger, MaxConns: maxConns, TLS: sec.tls}
			err = srv.Serve(ctx, ln)
			logger.Info("shardscope stopped")
			return err
		},
	}
	store.register(cmd)
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4567", "address to serve on")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error (debug logs every request)")
	cmd.Flags().IntVar(&maxConns, "max-conns", api.DefaultMaxConns, "most connections served at once; more wait to be accepted (negative: no cap)")
	secFlags.register(cmd, "")
	return cmd
}

func benchCommand() *cobra.Command {
	var cfg loadgen.Config
	var syncMode string
	var authCompare bool
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
			if authCompare {
				if cfg.Endpoint != "" {
					return errors.New("--auth-compare measures the embedded shardscope; leave out --endpoint")
				}
				return benchAuthCompare(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), cfg, syncMode)
			}
			if cfg.Endpoint == "" {
				endpoint, stopServer, err := benchEmbedded(ctx, syncMode, false)
				if err != nil {
					return err
				}
				defer stopServer()
				cfg.Endpoint = endpoint
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
	f.BoolVar(&authCompare, "auth-compare", false, "run the load on the embedded shardscope twice, without and with --auth (signatures verified), and print the ratio")
	return cmd
}

// benchEmbedded starts an embedded shardscope (limits off, a temporary
// store) on a loopback port, verifying signatures when withAuth (the
// bench client signs as "bench"/"bench"), and returns its endpoint and
// how to stop it.
func benchEmbedded(ctx context.Context, syncMode string, withAuth bool) (endpoint string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "shardscope-bench")
	if err != nil {
		return "", nil, err
	}
	store := storeFlags{db: filepath.Join(dir, "bench.db"), sync: syncMode, noLimits: true}
	db, e, err := store.open(nil, nil)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	var opts api.Options
	if withAuth {
		keys, err := auth.ParseCredentials(strings.NewReader("[bench]\naws_access_key_id = bench\naws_secret_access_key = bench\n"), e.Options().AccountID)
		if err != nil {
			return "", nil, err
		}
		opts.Auth = &auth.Verifier{Keys: keys, Region: e.Options().Region}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.Close()
		db.Close()
		os.RemoveAll(dir)
		return "", nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- api.Serve(sctx, ln, api.NewHandler(e, opts), nil) }()
	return "http://" + ln.Addr().String(), func() {
		cancel()
		<-served
		e.Close()
		db.Close()
		os.RemoveAll(dir)
	}, nil
}

// benchAuthCompare runs the same load without and with signature
// verification, alternating twice to even out a busy machine, and prints
// each run and the put-rate ratio with/without.
func benchAuthCompare(ctx context.Context, out, errOut io.Writer, cfg loadgen.Config, syncMode string) error {
	var rate [2]float64
	for round := 0; round < 2; round++ {
		for i, withAuth := range []bool{false, true} {
			endpoint, stop, err := benchEmbedded(ctx, syncMode, withAuth)
			if err != nil {
				return err
			}
			c := cfg
			c.Endpoint = endpoint
			res, err := loadgen.Run(ctx, c)
			stop()
			if err != nil {
				return err
			}
			label := "auth off"
			if withAuth {
				label = "auth on "
			}
			fmt.Fprintf(out, "%s  %s\n", label, res)
			if res.LastError != "" {
				fmt.Fprintln(errOut, "last error:", res.LastError)
			}
			rate[i] += float64(res.Put) / res.Elapsed.Seconds()
		}
	}
	if rate[0] > 0 {
		fmt.Fprintf(out, "auth on/off put rate: %.2f\n", rate[1]/rate[0])
	}
	return nil
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

// securityFlags are the flags that make the API behave like the service's
// front door: signed requests, policies and TLS.
type securityFlags struct {
	auth, policy    string
	tlsCert, tlsKey string
	tlsSelfSigned   bool
}

func (f *securityFlags) register(cmd *cobra.Command, with string) {
	fl := cmd.Flags()
	fl.StringVar(&f.auth, "auth", "", with+"verify every request's AWS Signature V4 against the keys in this AWS shared-credentials file ([name] sections; name = IAM user)")
	fl.StringVar(&f.policy, "policy", "", with+"decide every signed request with the IAM identity policies in this JSON file (user → policy document(s)); needs --auth")
	fl.StringVar(&f.tlsCert, "tls-cert", "", with+"serve HTTPS only, with this PEM certificate (needs --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", with+"the PEM private key of --tls-cert")
	fl.BoolVar(&f.tlsSelfSigned, "tls-self-signed", false, with+"serve HTTPS only, with a self-signed certificate for the listen address kept beside the store (fingerprint printed)")
}

// security is what the flags built.
type security struct {
	opts        api.Options // Auth and Policies
	tls         *tls.Config
	certFile    string // the certificate clients should trust, when TLS
	fingerprint string
	made        bool // the self-signed certificate was just made
}

func (f *securityFlags) any() bool {
	return f.auth != "" || f.policy != "" || f.tlsCert != "" || f.tlsKey != "" || f.tlsSelfSigned
}

// build reads the files the flags name. storePath places a self-signed
// certificate; ln is the listener it is for.
func (f *securityFlags) build(e *engine.Engine, storePath string, ln net.Listener) (security, error) {
	var s security
	o := e.Options()
	if f.policy != "" && f.auth == "" {
		return s, errors.New("--policy needs --auth: a policy decides for a signed caller")
	}
	if f.auth != "" {
		keys, err := auth.LoadCredentials(f.auth, o.AccountID)
		if err != nil {
			return s, fmt.Errorf("--auth: %w", err)
		}
		s.opts.Auth = &auth.Verifier{Keys: keys, Region: o.Region, Now: e.Clock().Now}
	}
	if f.policy != "" {
		a, err := auth.LoadPolicies(f.policy, o.AccountID)
		if err != nil {
			return s, fmt.Errorf("--policy: %w", err)
		}
		s.opts.Policies = a
	}
	switch {
	case f.tlsSelfSigned && (f.tlsCert != "" || f.tlsKey != ""):
		return s, errors.New("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return s, tlscert.ErrNoCertificate
	case f.tlsCert != "":
		c, err := tlscert.Load(f.tlsCert, f.tlsKey)
		if err != nil {
			return s, err
		}
		s.tls, s.certFile, s.fingerprint = tlscert.Config(c), f.tlsCert, tlscert.Fingerprint(c)
	case f.tlsSelfSigned:
		s.certFile = storePath + ".tls-cert.pem"
		c, made, err := tlscert.SelfSigned(s.certFile, storePath+".tls-key.pem", tlscert.Hosts(ln.Addr().String()), time.Now())
		if err != nil {
			return s, fmt.Errorf("--tls-self-signed: %w", err)
		}
		s.tls, s.fingerprint, s.made = tlscert.Config(c), tlscert.Fingerprint(c), made
	}
	return s, nil
}

// scheme is the endpoint's URL scheme.
func (s security) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// describe says, in one line each, what is on.
func (s security) describe() []string {
	var out []string
	if s.opts.Auth != nil {
		out = append(out, fmt.Sprintf("signed requests required (%d keys)", s.opts.Auth.Keys.Len()))
	}
	if s.opts.Policies != nil {
		out = append(out, fmt.Sprintf("IAM policies enforced (%d principals with identity policies)", s.opts.Policies.Principals()))
	}
	if s.tls != nil {
		out = append(out, fmt.Sprintf("TLS certificate %s, SHA-256 fingerprint %s", s.certFile, s.fingerprint))
	}
	return out
}
