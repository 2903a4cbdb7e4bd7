package remote

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardscope/shardscope/api/remote/remotetest"
)

// tmux drives the real binary in a private tmux server.
type tmux struct {
	t      *testing.T
	socket string
}

func (s *tmux) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmux) screen() string { return s.run("capture-pane", "-p", "-t", "S") }

func (s *tmux) waitFor(what string, timeout time.Duration, cond func(string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		if last = s.screen(); cond(last) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("waiting for %s: gave up after %v; screen:\n%s", what, timeout, last)
	return ""
}

func has(subs ...string) func(string) bool {
	return func(sc string) bool {
		for _, s := range subs {
			if !strings.Contains(sc, s) {
				return false
			}
		}
		return true
	}
}

// TestAttachEndToEndInTmux runs `shardscope attach` in a real terminal
// against `shardscope serve`: the header says where and read-only, records
// written elsewhere appear, a split made elsewhere shows its lineage, the
// split key is refused without --allow-writes, and q exits cleanly.
func TestAttachEndToEndInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		remotetest.Unavailable(t, "tmux not installed (.ci/run installs it): %v", err)
	}
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	url := remotetest.Serve(t)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(t, sdk, "orders", 2)
	bin := remotetest.Binary(t)

	s := &tmux{t: t, socket: fmt.Sprintf("shardscope-attach-%d", os.Getpid())}
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	none := filepath.Join(t.TempDir(), "none")
	cmd := fmt.Sprintf("TERM=xterm-256color AWS_CONFIG_FILE=%s AWS_SHARED_CREDENTIALS_FILE=%s AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y %s attach --stream orders --endpoint %s; echo [exit=$?]; sleep 60",
		none, none, bin, url)
	s.run("new-session", "-d", "-s", "S", "-x", "160", "-y", "45", cmd)
	s.run("set-option", "-s", "escape-time", "0")
	host := strings.TrimPrefix(url, "http://")
	s.waitFor("the header and both shards", 20*time.Second, has("orders @ "+host, "read-only", "000000000000", "000000000001", "20 % of 5 reads/s"))

	remotetest.Put(t, sdk, "orders", "tmuxkey", 5)
	s.waitFor("the records in the feed", 15*time.Second, has("tmuxkey0", "tmuxkey4"))

	s.run("send-keys", "-t", "S", "S")
	s.waitFor("the split refused", 10*time.Second, has("SplitShard not sent", "read-only"))

	if _, err := sdk.SplitShard(bg, &kinesis.SplitShardInput{StreamName: aws.String("orders"), ShardToSplit: aws.String("shardId-000000000001"),
		NewStartingHashKey: aws.String("255211775190703847597530955573826158592")}); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the lineage of the split made elsewhere", 15*time.Second, has("CLOSED →", "000000000002", "000000000003", "split from shardId-000000000001"))

	s.run("send-keys", "-t", "S", "q")
	sc := s.waitFor("exit", 15*time.Second, has("[exit="))
	if !strings.Contains(sc, "[exit=0]") {
		t.Fatalf("exit status not 0:\n%s", sc)
	}
}

// TestAttachCommandErrors: bad flags and no terminal give a clear line.
func TestAttachCommandErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := remotetest.Binary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"attach"}, "--stream is required"},
		{[]string{"attach", "--stream", "s", "--from", "yesterday"}, "--from yesterday: want trim-horizon, latest"},
		{[]string{"attach", "--stream", "s", "--from", "at-timestamp=noon"}, "want RFC 3339"},
		{[]string{"attach", "--stream", "s", "--endpoint", "http://127.0.0.1:1"}, "needs a terminal"},
	} {
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("%v: %v\n%s\nwant one line with %q", c.args, err, out, c.want)
		}
	}
}
