package kcl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// One dynalite (npm, pinned in testdata/dynalite) serves every test of
// the package: TestMain stops it. Each test uses tables of its own.
var dyn struct {
	once    sync.Once
	url     string
	failure string // why dynalite is unavailable, "" when it runs
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	dir     string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dyn.cmd != nil {
		dyn.stdin.Close() // dynalite.js exits when its stdin closes
		done := make(chan struct{})
		go func() { dyn.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			dyn.cmd.Process.Kill()
			<-done
		}
	}
	if dyn.dir != "" {
		os.RemoveAll(dyn.dir)
	}
	os.Exit(code)
}

// startDynalite installs the pinned dynalite into a temporary directory
// and starts it on a loopback port the system picks.
func startDynalite() (failure string) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Sprintf("%s not found: %v", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "shardscope-dynalite-")
	if err != nil {
		return err.Error()
	}
	dyn.dir = dir
	for _, name := range []string{"package.json", "package-lock.json", "dynalite.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "dynalite", name))
		if err != nil {
			return err.Error()
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err.Error()
		}
	}
	var out []byte
	installed := false
	for _, args := range [][]string{{"ci"}, {"install"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, "npm", append(args, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		out, err = cmd.CombinedOutput()
		cancel()
		if err == nil {
			installed = true
			break
		}
	}
	if !installed {
		return fmt.Sprintf("npm could not install dynalite: %v\n%s", err, out)
	}
	cmd := exec.Command("node", "dynalite.js")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err.Error()
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err.Error()
	}
	if err := cmd.Start(); err != nil {
		return fmt.Sprintf("start dynalite: %v", err)
	}
	dyn.cmd, dyn.stdin = cmd, stdin
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		var hello struct{ Port int }
		if !ok || json.Unmarshal([]byte(l), &hello) != nil || hello.Port == 0 {
			return fmt.Sprintf("dynalite did not say its port: %q", l)
		}
		dyn.url = fmt.Sprintf("http://127.0.0.1:%d", hello.Port)
	case <-time.After(30 * time.Second):
		return "dynalite did not start within 30s"
	}
	return ""
}

// dynamo returns a client of the package's dynalite. Without node or npm
// it skips the test, unless CI is "true": there it must run.
func dynamo(t testing.TB) *dynamodb.Client {
	t.Helper()
	dyn.once.Do(func() { dyn.failure = startDynalite() })
	if dyn.failure != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dynalite unavailable under CI: %s", dyn.failure)
		}
		t.Skipf("dynalite unavailable (needs node and npm): %s", dyn.failure)
	}
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(dyn.url),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

var tableSeq atomic.Int64

// newTable creates a lease table of a fresh name.
func newTable(t testing.TB, client *dynamodb.Client, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, tableSeq.Add(1))
	if err := CreateLeaseTable(context.Background(), client, name, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return name
}
