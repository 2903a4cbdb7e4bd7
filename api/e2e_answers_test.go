package api

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// TestEndToEndServiceAnswersBoto3 runs testdata/e2e_service_answers.py
// (boto3) against an engine with state delays: short shard ids, the
// service's error texts and validation, and what a stream shows while
// CREATING, UPDATING and DELETING. Outside CI a missing boto3 skips it.
func TestEndToEndServiceAnswersBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: boto3 takes a while to start")
	}
	python := os.Getenv("SHARDSCOPE_PYTHON")
	if python == "" {
		python = "python3"
	}
	if exec.Command(python, "-c", "import boto3").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("boto3 is not installed; CI must have it")
		}
		t.Skip("boto3 is not installed")
	}
	e := testEngine(t, engine.Options{DisableLimits: true, CreateDelay: time.Second, UpdateDelay: 2 * time.Second, DeleteDelay: time.Second})
	url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, python, "testdata/e2e_service_answers.py", url).CombinedOutput()
	if err != nil {
		t.Fatalf("e2e_service_answers.py failed after %v: %v\n%s", time.Since(start).Round(time.Millisecond), err, out)
	}
	t.Logf("passed in %v", time.Since(start).Round(time.Millisecond))
}
