package api

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// TestEndToEndAWSCLIAndBoto3 serves a real engine on a loopback port and
// runs testdata/e2e.sh (AWS CLI) and testdata/e2e_boto3.py (boto3) against
// it: clients that no one here wrote. Outside CI a missing client skips
// its part; in CI (CI=true) it fails the test.
func TestEndToEndAWSCLIAndBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the AWS CLI takes a while to start")
	}
	e := testEngine(t, engine.Options{DisableLimits: true}) // the scripts run faster than 5 reads/s/shard
	url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))

	// .ci/run points SHARDSCOPE_PYTHON at a Python that has boto3 when the
	// one on PATH does not.
	python := os.Getenv("SHARDSCOPE_PYTHON")
	if python == "" {
		python = "python3"
	}
	clients := []struct {
		name    string
		have    func() bool
		command []string
	}{
		{"aws-cli", func() bool { _, err := exec.LookPath("aws"); return err == nil }, []string{"bash", "testdata/e2e.sh", url}},
		{"boto3", func() bool { return exec.Command(python, "-c", "import boto3").Run() == nil }, []string{python, "testdata/e2e_boto3.py", url}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if !c.have() {
				if os.Getenv("CI") == "true" {
					t.Fatalf("%s is not installed; CI must have it", c.name)
				}
				t.Skipf("%s is not installed", c.name)
			}
			// Each CLI call starts a Python interpreter (seconds on a busy
			// machine), so the deadline only guards against a hang.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.command[0], c.command[1:]...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s failed after %v: %v\n%s", c.name, time.Since(start).Round(time.Millisecond), err, out)
			}
			t.Logf("%s passed in %v", c.name, time.Since(start).Round(time.Millisecond))
		})
	}
}
