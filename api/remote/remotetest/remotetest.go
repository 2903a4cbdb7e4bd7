// Package remotetest starts, on loopback, the Kinesis servers the attach
// tests run against — shardscope serve as a separate process, kinesalite
// and kinesis-mock (npm kinesis-local) pinned in api/remote/testdata — and
// a proxy that counts the calls a server receives by action. Only tests
// import it.
package remotetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardscope/shardscope/api/remote"
)

// work is the per-process directory holding the built binary and the npm
// install; Main removes it.
var (
	workOnce sync.Once
	workDir  string
	workErr  error
)

func work() (string, error) {
	workOnce.Do(func() { workDir, workErr = os.MkdirTemp("", "shardscope-remotetest-") })
	return workDir, workErr
}

// Main runs the tests and removes what they built.
func Main(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// Unavailable skips the test, or fails it under CI=true, where every tool
// must be there.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// moduleRoot is the repository's root, found from this file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds shardscope once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := work()
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "shardscope")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var servedAddr = regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)

// Serve starts `shardscope serve` (limits on, a fresh store) as a separate
// process on a loopback port and returns its URL; it stops at the test's
// end. extra flags are passed on.
func Serve(t testing.TB, extra ...string) string {
	t.Helper()
	bin := Binary(t)
	args := append([]string{"serve", "--db", filepath.Join(t.TempDir(), "serve.db"), "--listen", "127.0.0.1:0", "--sync", "none"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := servedAddr.FindStringSubmatch(sc.Text()); m != nil && !sent {
				addr <- m[1]
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(20 * time.Second):
		t.Fatal("shardscope serve did not say where it listens within 20 s")
	}
	return ""
}

var (
	npmOnce sync.Once
	npmDir  string
	npmErr  error
)

// nodeModules installs testdata/servers' pinned packages once per process.
func nodeModules(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			Unavailable(t, "%s not found (kinesalite and kinesis-local need it): %v", tool, err)
		}
	}
	npmOnce.Do(func() {
		dir, err := work()
		if err != nil {
			npmErr = err
			return
		}
		npmDir = filepath.Join(dir, "npm")
		if npmErr = os.MkdirAll(npmDir, 0o755); npmErr != nil {
			return
		}
		src := filepath.Join(moduleRoot(), "api", "remote", "testdata", "servers")
		for _, name := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				npmErr = err
				return
			}
			if npmErr = os.WriteFile(filepath.Join(npmDir, name), b, 0o644); npmErr != nil {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = npmDir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci in %s: %v\n%s", npmDir, err, out)
		}
	})
	if npmErr != nil {
		Unavailable(t, "%v", npmErr)
	}
	return npmDir
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNode runs a node program and waits for its port to accept.
func startNode(t testing.TB, what string, port int, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), env...)
	log := filepath.Join(t.TempDir(), what+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			t.Fatalf("%s did not listen on %s within 30 s:\n%s", what, addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kinesalite starts kinesalite (in memory, instant stream changes) and
// returns its URL.
func Kinesalite(t testing.TB) string {
	t.Helper()
	dir := nodeModules(t)
	port := FreePort(t)
	return startNode(t, "kinesalite", port, nil, filepath.Join(dir, "node_modules", "kinesalite", "cli.js"),
		"--port", fmt.Sprint(port), "--createStreamMs", "0", "--deleteStreamMs", "0", "--updateStreamMs", "0", "--shardLimit", "100")
}

// KinesisMock starts kinesis-mock (npm kinesis-local) on plain HTTP and
// returns its URL.
func KinesisMock(t testing.TB) string {
	t.Helper()
	dir := nodeModules(t)
	port, tls := FreePort(t), FreePort(t)
	pkg := filepath.Join(dir, "node_modules", "kinesis-local")
	return startNode(t, "kinesis-mock", port, []string{
		fmt.Sprintf("KINESIS_MOCK_PLAIN_PORT=%d", port), fmt.Sprintf("KINESIS_MOCK_TLS_PORT=%d", tls),
		"KINESIS_MOCK_CERT_PATH=" + filepath.Join(pkg, "server.json"), "LOG_LEVEL=WARN", "SHOULD_PERSIST_DATA=false",
	}, filepath.Join(pkg, "main.js"))
}

// Counter is a reverse proxy in front of a server that counts the calls
// it forwards by action (the X-Amz-Target operation).
type Counter struct {
	URL   string
	mu    sync.Mutex
	calls map[string]int
	down  bool
}

// SetDown makes the proxy drop every request (the connection closes with
// no answer), as a lost network would, or serve again.
func (c *Counter) SetDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

// NewCounter starts a counting proxy to target on loopback.
func NewCounter(t testing.TB, target string) *Counter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &Counter{calls: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // SubscribeToShard streams events
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		c.mu.Lock()
		down := c.down
		if !down {
			c.calls[op]++
		}
		c.mu.Unlock()
		if down {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c.URL = "http://" + ln.Addr().String()
	return c
}

// Calls returns a copy of the counts by action.
func (c *Counter) Calls() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	return out
}

// Config is an SDK configuration with dummy credentials and no retries,
// independent of the developer's AWS files.
func Config() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		Retryer:     func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	}
}

// SDK returns a plain SDK client for the test's own calls.
func SDK(url string) *kinesis.Client {
	cfg := Config()
	cfg.Retryer = func() aws.Retryer { return retry.NewStandard() }
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
}

// Remote returns an api/remote Client for url.
func Remote(url string, o remote.Options) *remote.Client {
	o.Endpoint = url
	return remote.NewFromConfig(Config(), o)
}

// CreateStream creates a stream and waits until it is ACTIVE.
func CreateStream(t testing.TB, c *kinesis.Client, name string, shards int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	WaitActive(t, c, name)
}

// WaitActive waits until the stream is ACTIVE.
func WaitActive(t testing.TB, c *kinesis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE within 30 s (last error %v)", name, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Put writes records with keys prefix0..prefixN-1 and data "prefix-i".
func Put(t testing.TB, c *kinesis.Client, stream, prefix string, n int) {
	t.Helper()
	var entries []types.PutRecordsRequestEntry
	for i := range n {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("%s%d", prefix, i)), Data: []byte(fmt.Sprintf("%s-%d", prefix, i))})
	}
	for len(entries) > 0 {
		k := min(len(entries), 500)
		out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries[:k]})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if aws.ToInt32(out.FailedRecordCount) > 0 {
			t.Fatalf("PutRecords: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
		entries = entries[k:]
	}
}

// Eventually polls cond every 20 ms until it holds or timeout passes.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dynalite starts dynalite (DynamoDB in memory, instant table changes) and
// returns its URL.
func Dynalite(t testing.TB) string {
	t.Helper()
	dir := nodeModules(t)
	port := FreePort(t)
	return startNode(t, "dynalite", port, nil, filepath.Join(dir, "node_modules", "dynalite", "cli.js"),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
}

// S3rver is s3rver (npm) on plain HTTP with a bucket "firehose"; a test
// can stop it and start it again on the same port and directory.
type S3rver struct {
	t       testing.TB
	modules string
	port    int
	dir     string
	cmd     *exec.Cmd
}

// StartS3rver starts s3rver on a loopback port; it stops at the test's end.
func StartS3rver(t testing.TB) *S3rver {
	t.Helper()
	s := &S3rver{t: t, modules: nodeModules(t), port: FreePort(t), dir: t.TempDir()}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's endpoint.
func (s *S3rver) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// Start starts the server (again) and waits until it listens.
func (s *S3rver) Start() {
	s.t.Helper()
	log := filepath.Join(s.dir, "s3rver.log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	s.cmd = exec.Command("node", filepath.Join(s.modules, "node_modules", "s3rver", "bin", "s3rver.js"),
		"--address", "127.0.0.1", "--port", fmt.Sprint(s.port), "--directory", filepath.Join(s.dir, "data"),
		"--silent", "--configure-bucket", "firehose")
	// Listing pages use DES tokens, refused by Node ≥ 17 without this.
	s.cmd.Env = append(os.Environ(), "NODE_OPTIONS=--openssl-legacy-provider")
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			s.t.Fatalf("s3rver did not listen on %s within 30 s:\n%s", addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server.
func (s *S3rver) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}
