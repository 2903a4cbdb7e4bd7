package api

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// TestEndToEndSettings runs testdata/e2e_settings.sh (AWS CLI) and
// testdata/e2e_settings_boto3.py (boto3) against a live server: the
// settings actions as real clients send them. Skipped where a client is
// missing, except in CI.
func TestEndToEndSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the AWS CLI takes a while to start")
	}
	t.Parallel() // alongside TestEndToEndAWSCLIAndBoto3: mostly waiting for Python to start
	python := os.Getenv("SHARDSCOPE_PYTHON")
	if python == "" {
		python = "python3"
	}
	clients := []struct {
		name    string
		have    func() bool
		command []string
	}{
		{"aws-cli", func() bool { _, err := exec.LookPath("aws"); return err == nil }, []string{"bash", "testdata/e2e_settings.sh"}},
		{"boto3", func() bool { return exec.Command(python, "-c", "import boto3").Run() == nil }, []string{python, "testdata/e2e_settings_boto3.py"}},
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
			// Generous: each CLI call starts a Python, seconds on a busy machine.
			// Each script has an engine of its own: both change the account's settings.
			e := testEngine(t, engine.Options{DisableLimits: true, ScaleInterval: -1})
			url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, c.command[0], append(c.command[1:], url)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s failed: %v\n%s", c.name, err, out)
			}
		})
	}
}
