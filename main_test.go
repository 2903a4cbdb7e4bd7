package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
	"github.com/shardscope/shardscope/ui"
	"github.com/shardscope/shardscope/ui/embedded"
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
// the given size, with its store in a temp dir and any extra arguments,
// until the shards pane shows records flowing.
func startConsole(t *testing.T, w, h int, extra ...string) (s *tmuxSession, bin, dir string) {
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
	cmd := fmt.Sprintf("TERM=xterm-256color %s --db %s --seed 7 %s; echo [exit=$?]; sleep 60", bin, filepath.Join(dir, "e2e.db"), strings.Join(extra, " "))
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
	cons := consumers.DefaultsWith(e, nil, "demo", embedded.ConsumerConfig(db, clock))
	tap := e.NewTap(4096)
	defer tap.Close()
	start := cpuTime()
	prods.Start(ctx)
	cons.Start(ctx)
	if withConsole {
		lipgloss.SetColorProfile(termenv.TrueColor)
		m := ui.New(embedded.New(ctx, embedded.Config{Engine: e, DB: db, Clock: clock, Tap: tap, Producers: prods, Consumers: cons}), ui.Options{Stream: "demo", TickInterval: ui.DefaultTickInterval})
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

// TestVersionFrom checks what `shardscope version` prints from the build
// info: a module version, else the commit (go build and go run stamp it),
// else a sentence saying why there is none.
func TestVersionFrom(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "7cd95512e3a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"}, {Key: "vcs.time", Value: "2026-12-03T18:00:00Z"}}
	for _, c := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"module version", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0"},
		{"commit", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "dev-7cd95512e3a0 (2026-12-03T18:00:00Z)"},
		{"changed tree", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "dev-7cd95512e3a0-dirty (2026-12-03T18:00:00Z)"},
		{"nothing", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev (built without version control information: -buildvcs=false or outside a repository)"},
		{"no build info", nil, "dev (no build information)"},
	} {
		if got := versionFrom(c.bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestBadCommandLineSuggestsHelp checks that a mistyped flag, command or
// argument ends with where to find the usage.
func TestBadCommandLineSuggestsHelp(t *testing.T) {
	for args, want := range map[string]string{
		"--bogus":       "unknown flag: --bogus\nRun 'shardscope --help' for usage.",
		"serve --bogus": "unknown flag: --bogus\nRun 'shardscope serve --help' for usage.",
		"nosuch":        "unknown command \"nosuch\" for \"shardscope\"\nRun 'shardscope --help' for usage.",
	} {
		cmd := rootCommand()
		cmd.SetArgs(strings.Fields(args))
		err := cmd.Execute()
		if err == nil || err.Error() != want {
			t.Errorf("shardscope %s: %v, want %q", args, err, want)
		}
	}
}

// TestConsoleHabitsInTmux walks issue 11's defects in a real terminal:
// A removes the applications added with a, newest first, never a built-in
// one; q closes the help instead of quitting; esc clears an applied
// filter and / opens empty.
func TestConsoleHabitsInTmux(t *testing.T) {
	s, _, _ := startConsole(t, 160, 48)

	s.keys("a")
	s.waitFor("poll-1 started", 10*time.Second, contains("started poll-1"))
	s.keys("a")
	s.waitFor("poll-2 listed in the consumers pane", 10*time.Second, contains("Consumers  5 polling"))
	s.keys("A")
	s.waitFor("poll-2 stopped", 30*time.Second, contains("stopped poll-2"))
	s.keys("A")
	s.waitFor("poll-1 stopped", 30*time.Second, contains("stopped poll-1"))
	s.keys("A")
	sc := s.waitFor("the built-in applications kept", 10*time.Second, contains("no polling consumer added with a to remove"))
	for _, app := range []string{"stopped page-stats", "stopped iot-alerts", "stopped log-stats"} {
		if strings.Contains(sc, app) {
			t.Fatalf("A removed a built-in application (%s):\n%s", app, sc)
		}
	}

	s.keys("?")
	s.waitFor("the help", 5*time.Second, contains("Help · focus"))
	s.keys("q")
	sc = s.waitFor("help closed by q", 5*time.Second, func(sc string) bool { return !strings.Contains(sc, "Help · focus") })
	if strings.Contains(sc, "[exit=") {
		t.Fatalf("q in the help quit the console:\n%s", sc)
	}

	s.keys("/", "user", "Enter")
	s.waitFor("the filter applied", 5*time.Second, contains("filter: user"))
	s.keys("Escape")
	s.waitFor("esc clearing the filter", 5*time.Second, func(sc string) bool { return !strings.Contains(sc, "filter: user") })
	s.keys("/")
	sc = s.waitFor("the filter input", 5*time.Second, contains("filter: "))
	if strings.Contains(sc, "filter: user") {
		t.Fatalf("/ reopened with the old filter:\n%s", sc)
	}
	s.keys("Escape") // apart from q: ESC q together reads as alt+q
	s.waitFor("the input closed", 5*time.Second, func(sc string) bool { return !strings.Contains(sc, "filter: ") })
	s.keys("q")
	sc = s.waitFor("exit", 15*time.Second, contains("[exit="))
	if !strings.Contains(sc, "[exit=0]") {
		t.Fatalf("exit status not 0:\n%s", sc)
	}
}

func TestSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	store := storeFlags{db: filepath.Join(dir, "s.db"), sync: "none"}
	db, e, err := store.open(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer e.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := write("credentials", "[alice]\naws_access_key_id = AKIAA\naws_secret_access_key = s\n")
	policy := write("policy.json", `{"alice": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}}}`)

	for _, tc := range []struct {
		flags securityFlags
		want  string
	}{
		{securityFlags{policy: policy}, "--policy needs --auth"},
		{securityFlags{tlsCert: "c.pem"}, "--tls-cert and --tls-key go together"},
		{securityFlags{tlsSelfSigned: true, tlsKey: "k"}, "exclude each other"},
		{securityFlags{auth: write("bad", "[x]\nfoo = bar\n")}, "needs aws_access_key_id"},
		{securityFlags{auth: creds, policy: write("badpolicy", `{"alice": {"Statement": []}}`)}, "--policy"},
	} {
		if _, err := tc.flags.build(e, db.Path(), ln); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want an error containing %q", tc.flags, err, tc.want)
		}
	}

	f := securityFlags{auth: creds, policy: policy, tlsSelfSigned: true}
	s, err := f.build(e, db.Path(), ln)
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.Auth == nil || s.opts.Policies == nil || s.tls == nil || !s.made || s.scheme() != "https" {
		t.Fatalf("built %+v", s)
	}
	if s.certFile != db.Path()+".tls-cert.pem" {
		t.Errorf("certificate at %s, want beside the store", s.certFile)
	}
	desc := strings.Join(s.describe(), "\n")
	for _, want := range []string{"signed requests required (1 keys)", "IAM policies enforced (1 principals", "SHA-256 fingerprint " + s.fingerprint} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	// The next start keeps the same certificate.
	again, err := f.build(e, db.Path(), ln)
	if err != nil || again.made || again.fingerprint != s.fingerprint {
		t.Fatalf("second start: made=%v fingerprint %s vs %s, err %v", again.made, again.fingerprint, s.fingerprint, err)
	}
}

func TestBenchAuthCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs four short loads")
	}
	cmd := benchCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--auth-compare", "--duration", "300ms", "--sync", "none", "--shards", "1", "--producers", "1", "--batch", "10"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("bench --auth-compare: %v\n%s", err, out.String())
	}
	text := out.String()
	if strings.Count(text, "auth on   put ") != 2 || strings.Count(text, "auth off  put ") != 2 || !strings.Contains(text, "auth on/off put rate: ") || strings.Count(text, "errors 0 ") != 4 {
		t.Fatalf("output:\n%s", text)
	}
	if strings.Contains(text, "last error") {
		t.Fatalf("a signed bench call failed:\n%s", text)
	}
}

// TestConsoleShowsDeniedRequests runs the console serving the API with
// --auth, --policy and a self-signed certificate, and checks that a
// request the policy refuses appears in the events pane.
func TestConsoleShowsDeniedRequests(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.ini")
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(creds, []byte("[bob]\naws_access_key_id = AKIABOB\naws_secret_access_key = bob/secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(policy, []byte(`{"bob": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "kinesis:List*", "Resource": "*"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, _, storeDir := startConsole(t, 160, 48, "--listen", addr, "--auth", creds, "--policy", policy, "--tls-self-signed")
	cert, err := os.ReadFile(filepath.Join(storeDir, "e2e.db.tls-cert.pem"))
	if err != nil {
		t.Fatalf("the self-signed certificate is not beside the store: %v", err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIABOB", "bob/secret", "")),
		config.WithCustomCABundle(bytes.NewReader(cert)), config.WithRetryMaxAttempts(1))
	if err != nil {
		t.Fatal(err)
	}
	c := kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String("https://" + addr) })
	if _, err := c.ListStreams(context.Background(), &kinesis.ListStreamsInput{}); err != nil {
		t.Fatalf("ListStreams, which bob may: %v", err)
	}
	_, err = c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("demo"), PartitionKey: aws.String("k"), Data: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("PutRecord: got %v, want AccessDeniedException", err)
	}
	s.waitFor("the denied request in the events pane", 10*time.Second, contains("denied kinesis:PutRecord to arn:aws:iam::000000000000:user/bob"))
	s.keys("q")
	s.waitFor("exit", 15*time.Second, contains("[exit=0]"))
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

// --config: the console runs the Kinesis Agent, a delivery and a trigger
// beside its own producers and consumers, shows them in its panes, and
// stops them cleanly on q.
func TestConsoleRunsAConfigFile(t *testing.T) {
	cfgDir := t.TempDir()
	logFile := filepath.Join(cfgDir, "app.log")
	agentJSON := fmt.Sprintf(`{"checkpointFile": %q, "flows": [{"filePattern": %q, "kinesisStream": "demo",
		"initialPosition": "START_OF_FILE", "maxBufferAgeMillis": 1000}]}`, filepath.Join(cfgDir, "ck.json"), logFile)
	if err := os.WriteFile(filepath.Join(cfgDir, "agent.json"), []byte(agentJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf("Triggers:\n  - Stream: demo\n    FunctionName: sink\n    Exec: cat > /dev/null\nDeliveries:\n  - To: file://%s\n    BufferIntervalInSeconds: 1\nAgent: agent.json\n",
		filepath.Join(cfgDir, "out"))
	cfgPath := filepath.Join(cfgDir, "around.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logFile, []byte(strings.Repeat("{\"from\":\"agent\"}\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _, _ := startConsole(t, 200, 60, "--config", cfgPath)
	// The consumers pane lists the built-in applications first; the
	// trigger's row is in view, the delivery's below it (the pane scrolls).
	s.waitFor("the agent's 100 lines among the producers and the trigger among the consumers", 30*time.Second, func(sc string) bool {
		return strings.Contains(sc, "agent app.log") && regexp.MustCompile(`sent +100\b`).MatchString(sc) && strings.Contains(sc, "trigger-sink") &&
			strings.Contains(sc, "Around · triggers, deliveries, agent") && strings.Contains(sc, "delivery deliver-demo → file://")
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		// yyyy/MM/dd/HH/object: the delivery's first object.
		if objects, _ := filepath.Glob(filepath.Join(cfgDir, "out", "*", "*", "*", "*", "*")); len(objects) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery wrote no object in 30 s:\n%s", s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.keys("q")
	sc := s.waitFor("exit", 30*time.Second, contains("[exit="))
	if !strings.Contains(sc, "[exit=0]") {
		t.Fatalf("exit status not 0:\n%s", sc)
	}
}
