package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/ui"
)

// tmuxSession drives the real binary in a private tmux server.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.run("capture-pane", "-p", "-t", "S") }

func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "S"}, keys...)...)
}

// waitFor polls the screen until cond holds or the deadline passes.
func (s *tmuxSession) waitFor(what string, timeout time.Duration, cond func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		last = s.screen()
		if cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("waiting for %s: gave up after %v; screen:\n%s", what, timeout, last)
	return ""
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

var feedTime = regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{3}`)

var newCount = regexp.MustCompile(`(\d+) new`)

// feedLines returns the lines of the feed pane (between its title and bottom border).
func feedLines(screen string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(l, "─ Feed"):
			in = true
		case in && strings.Contains(l, "╰"):
			return out
		case in:
			out = append(out, l)
		}
	}
	return out
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shardscope")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startConsole builds the binary and runs it in a private tmux server of
// the given size, with its store in a temp dir, until the shards pane shows
// records flowing.
func startConsole(t *testing.T, w, h int) (s *tmuxSession, bin, dir string) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is required in CI (.ci/run installs it)")
		}
		t.Skip("tmux not installed")
	}
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	bin = buildBinary(t)
	dir = t.TempDir()
	s = &tmuxSession{t: t, socket: fmt.Sprintf("shardscope-e2e-%d-%s", os.Getpid(), t.Name())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	cmd := fmt.Sprintf("TERM=xterm-256color %s --db %s --seed 7; echo [exit=$?]; sleep 60", bin, filepath.Join(dir, "e2e.db"))
	s.run("new-session", "-d", "-s", "S", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), cmd)
	s.run("set-option", "-s", "escape-time", "0")
	s.run("set-option", "-t", "S", "window-size", "manual")
	s.waitFor("the shards pane with records flowing", 20*time.Second, func(sc string) bool {
		return strings.Contains(sc, "Shards") && strings.Contains(sc, "000003") && feedTime.MatchString(sc)
	})
	return s, bin, dir
}

// TestConsoleEndToEndInTmux builds shardscope, runs it in a real terminal
// and walks the main experiment: raise a rate, split shard 0, pause the
// feed, open help, shrink to 80×24 and quit.
func TestConsoleEndToEndInTmux(t *testing.T) {
	s, _, _ := startConsole(t, 120, 40)

	s.keys("+")
	s.waitFor("the rate change in the status line", 5*time.Second, contains("clickstream rate → 800"))

	s.keys("S")
	sc := s.waitFor("the split's children and the closed parent", 10*time.Second, func(sc string) bool {
		return strings.Contains(sc, "000000000004") && strings.Contains(sc, "000000000005") && strings.Contains(sc, "CLOSED")
	})
	if !regexp.MustCompile(`CLOSED → …?0*4, …?0*5`).MatchString(sc) {
		t.Fatalf("closed parent does not name its children:\n%s", sc)
	}

	s.keys("p")
	s.waitFor("the paused feed", 5*time.Second, contains("paused"))
	frozen := feedLines(s.screen())
	sc = s.waitFor("new records counted while paused", 10*time.Second, func(sc string) bool {
		m := newCount.FindStringSubmatch(sc)
		return m != nil && m[1] != "0"
	})
	if got := feedLines(sc); strings.Join(got, "\n") != strings.Join(frozen, "\n") {
		t.Fatalf("feed moved while paused:\nbefore:\n%s\nafter:\n%s", strings.Join(frozen, "\n"), strings.Join(got, "\n"))
	}

	s.keys("?")
	s.waitFor("the help view", 5*time.Second, contains("load experiments"))
	s.keys("?")
	s.waitFor("help closed", 5*time.Second, func(sc string) bool { return !strings.Contains(sc, "load experiments") })

	s.run("resize-window", "-t", "S", "-x", "80", "-y", "24")
	s.waitFor("the compact layout", 5*time.Second, contains("[tab:"))

	s.keys("q")
	sc = s.waitFor("exit", 15*time.Second, contains("[exit="))
	if !strings.Contains(sc, "[exit=0]") {
		t.Fatalf("exit status not 0:\n%s", sc)
	}
	if strings.Contains(sc, "Shards") || strings.Contains(sc, "━") {
		t.Fatalf("screen not restored after quit:\n%s", sc)
	}
}

// TestSecondConsoleOnSameStoreFailsFast checks that a store held by one
// console gives a second one a clear one-line error, not a hang.
func TestSecondConsoleOnSameStoreFailsFast(t *testing.T) {
	s, bin, dir := startConsole(t, 100, 30)
	db := filepath.Join(dir, "e2e.db")
	start := time.Now()
	s.run("new-session", "-d", "-s", "S2", "-x", "200", "-y", "10", fmt.Sprintf("%s --db %s; echo [exit=$?]; sleep 60", bin, db))
	var sc string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc = s.run("capture-pane", "-p", "-t", "S2")
		if strings.Contains(sc, "[exit=") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	if !strings.Contains(sc, "[exit=1]") {
		t.Fatalf("second console did not fail:\n%s", sc)
	}
	msg := strings.TrimSpace(sc[:strings.Index(sc, "[exit=")])
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, db) || !strings.Contains(msg, "in use") {
		t.Fatalf("want one line naming the file and saying it is in use, got:\n%s", msg)
	}
	if took > 5*time.Second {
		t.Fatalf("second console took %v to fail", took)
	}
}

// TestConsoleNeedsATerminal checks the message when there is no terminal.
func TestConsoleNeedsATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "--db", filepath.Join(t.TempDir(), "x.db")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs a terminal") {
		t.Fatalf("got %v:\n%s", err, out)
	}
}

// BenchmarkConsoleCPU compares the process CPU used while the demo load
// runs at 5,000 records/s headless and with the console rendering (to a
// discarded output, 200 ms ticks, 160×48, full colour) in the same run.
//
//	go test -run '^$' -bench ConsoleCPU -benchtime 1x .
func BenchmarkConsoleCPU(b *testing.B) {
	const d = 5 * time.Second
	var headless, console time.Duration
	for i := 0; i < b.N; i++ {
		headless += loadCPU(b, false, d)
		console += loadCPU(b, true, d)
	}
	b.ReportMetric(float64(headless.Milliseconds())/float64(b.N)/d.Seconds()/10, "headless-cpu-%")
	b.ReportMetric(float64(console.Milliseconds())/float64(b.N)/d.Seconds()/10, "console-cpu-%")
	b.ReportMetric(float64(console)/float64(headless), "console/headless")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadCPU runs the demo stream, producers at 5,000 records/s in total and
// the consumers for d, with or without the console, and returns the CPU used.
func loadCPU(b *testing.B, withConsole bool, d time.Duration) time.Duration {
	b.Helper()
	clock := engine.NewOffsetClock(nil)
	store := storeFlags{db: filepath.Join(b.TempDir(), "cpu.db"), sync: "always"}
	db, e, err := store.open(clock, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ensureStream(ctx, e, "demo", 8); err != nil {
		b.Fatal(err)
	}
	prods := producers.DefaultsWith(e, "demo", producers.Config{Seed: 1, Clock: clock})
	for _, p := range prods.All() {
		p.Scale(5000.0 / 1200.0) // the demo's 1,200 records/s → 5,000
	}
	cons := consumers.DefaultsWith(e, nil, "demo", consumerConfig(db, clock))
	tap := e.NewTap(4096)
	defer tap.Close()
	start := cpuTime()
	prods.Start(ctx)
	cons.Start(ctx)
	if withConsole {
		lipgloss.SetColorProfile(termenv.TrueColor)
		m := ui.New(&consoleBackend{e: e, db: db, clock: clock, tap: tap, prods: prods, cons: cons, ctx: ctx}, ui.Options{Stream: "demo", TickInterval: ui.DefaultTickInterval})
		p := tea.NewProgram(m, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutSignalHandler())
		done := make(chan struct{})
		go func() { defer close(done); p.Run() }()
		p.Send(tea.WindowSizeMsg{Width: 160, Height: 48})
		time.Sleep(d)
		p.Quit()
		<-done
	} else {
		time.Sleep(d)
	}
	prods.Stop()
	cons.Stop()
	return cpuTime() - start
}

// TestConsoleBackendTogglesAggregation checks the adapter behind g: it
// really switches the producer's KPL aggregation (aggregated records reach
// the engine, several user records each), the producers pane sees the
// state, and a second press switches it back.
func TestConsoleBackendTogglesAggregation(t *testing.T) {
	store := storeFlags{db: filepath.Join(t.TempDir(), "agg.db"), sync: "none"}
	db, e, err := store.open(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ensureStream(ctx, e, "demo", 4); err != nil {
		t.Fatal(err)
	}
	prods := producers.DefaultsWith(e, "demo", producers.Config{Seed: 1})
	tap := e.NewTap(4096)
	defer tap.Close()
	b := &consoleBackend{e: e, db: db, tap: tap, prods: prods, ctx: ctx}

	aggregating := func() map[string]bool {
		m := map[string]bool{}
		for _, v := range b.Producers() {
			m[v.Name] = v.Aggregating
		}
		return m
	}
	if _, err := b.ProducerToggleAggregate("nope"); err == nil {
		t.Error("toggling an unknown producer did not fail")
	}
	msg, err := b.ProducerToggleAggregate(producers.DemoIoT)
	if err != nil || !strings.Contains(msg, "iot KPL aggregation on") {
		t.Fatalf("toggle on: %q, %v", msg, err)
	}
	if got := aggregating(); !got[producers.DemoIoT] || got[producers.DemoClickstream] || got[producers.DemoLogs] {
		t.Fatalf("producers pane's aggregation states %v, want only iot", got)
	}

	if err := prods.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer prods.Stop()
	// Wait, with a deadline, for an aggregate of several user records.
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	var recs []engine.TapRecord
	for packed := false; !packed; {
		select {
		case <-deadline.C:
			p, _ := prods.Get(producers.DemoIoT)
			t.Fatalf("no aggregated record of several user records reached the engine; iot stats %+v", p.Stats())
		case <-poll.C:
		}
		recs = tap.Drain(recs[:0])
		for _, r := range recs {
			if !consumers.IsAggregated(r.Data) {
				continue
			}
			if users, _ := consumers.Deaggregate([]engine.Record{r.Record}, nil); len(users) > 1 {
				packed = true
			}
		}
	}

	msg, err = b.ProducerToggleAggregate(producers.DemoIoT)
	if err != nil || !strings.Contains(msg, "iot KPL aggregation off") {
		t.Fatalf("toggle off: %q, %v", msg, err)
	}
	if p, _ := prods.Get(producers.DemoIoT); p.Stats().Aggregating || aggregating()[producers.DemoIoT] {
		t.Error("aggregation still on after the second toggle")
	}
}

// runKeys runs `shardscope keys ARGS --db db` in process and returns its
// output and error.
func runKeys(t *testing.T, db string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(append([]string{"keys"}, args...), "--db", db))
	err := cmd.Execute()
	return out.String(), err
}

// `shardscope keys` drives the keyring beside the store.
func TestKeysCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "s.db")
	out, err := runKeys(t, db, "create", "--description", "orders", "--alias", "alias/orders")
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(out, "\t")
	for _, args := range [][]string{{"rotate", "alias/orders"}, {"rotate", id}, {"disable", id}} {
		if out, err := runKeys(t, db, args...); err != nil {
			t.Fatalf("keys %v: %v (%s)", args, err, out)
		}
	}
	out, err = runKeys(t, db, "list")
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "Disabled") || !strings.Contains(out, "alias/orders") || !strings.Contains(out, "2, last") {
		t.Fatalf("keys list = %q, %v", out, err)
	}
	if fi, err := os.Stat(db + ".keys"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v, %v", fi, err)
	}
	for _, args := range [][]string{{"alias", "alias/aws/mine", id}, {"enable", "nope"}, {"schedule-deletion", id, "--days", "3"}} {
		if _, err := runKeys(t, db, args...); err == nil {
			t.Errorf("keys %v succeeded", args)
		}
	}
}
