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
// it: clients that no one here wrote.
func TestEndToEndAWSCLIAndBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the AWS CLI takes a while to start")
	}
	e := testEngine(t, engine.Options{DisableLimits: true}) // the scripts run faster than 5 reads/s/shard
	url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
	t.Run("aws-cli", func(t *testing.T) { t.Parallel(); runClientScript(t, "aws-cli", "testdata/e2e.sh", url) })
	t.Run("boto3", func(t *testing.T) { t.Parallel(); runClientScript(t, "boto3", "testdata/e2e_boto3.py", url) })
}

// runClientScript runs script with a real client ("aws-cli" runs it with
// bash, "boto3" with Python) against the server at url. Outside CI a
// missing client skips the test; in CI (CI=true) it fails it.
func runClientScript(t *testing.T, client, script, url string) {
	t.Helper()
	runClientScriptWith(t, client, script, nil, url)
}

// runClientScriptWith is runClientScript with extra environment
// variables and arguments.
func runClientScriptWith(t *testing.T, client, script string, env []string, args ...string) {
	t.Helper()
	var argv []string
	switch client {
	case "aws-cli":
		if _, err := exec.LookPath("aws"); err == nil {
			argv = []string{"bash"}
		}
	case "boto3":
		// .ci/run points SHARDSCOPE_PYTHON at a Python that has boto3
		// when the one on PATH does not.
		python := os.Getenv("SHARDSCOPE_PYTHON")
		if python == "" {
			python = "python3"
		}
		if exec.Command(python, "-c", "import boto3").Run() == nil {
			argv = []string{python}
		}
	default:
		t.Fatalf("unknown client %q", client)
	}
	if argv == nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; CI must have it", client)
		}
		t.Skipf("%s is not installed", client)
	}
	// Each CLI call starts a Python interpreter (seconds on a busy
	// machine), so the deadline only guards against a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, argv[0], append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s failed after %v: %v\n%s", client, script, time.Since(start).Round(time.Millisecond), err, out)
	}
	t.Logf("%s %s passed in %v", client, script, time.Since(start).Round(time.Millisecond))
}
