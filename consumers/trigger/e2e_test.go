package trigger

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// needTool skips without the tool outside CI and fails in CI.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not found (CI unset): skipping the end-to-end run through its runner", name)
		}
		t.Fatalf("%s not found in CI", name)
	}
	return p
}

const nodeHandler = `const fs = require('fs');
const out = process.env.OUT, mark = process.env.MARK;

// A handler written for Lambda: async, partial batch responses.
exports.handler = async (event, context) => {
  for (const r of event.Records) {
    const d = Buffer.from(r.kinesis.data, 'base64').toString('utf8');
    console.log('record', d, 'of', context.functionName); // a log, not the reply
    if (d === 'bad' && !fs.existsSync(mark)) {
      fs.writeFileSync(mark, '');
      return {batchItemFailures: [{itemIdentifier: r.kinesis.sequenceNumber}]};
    }
    if (d === 'throw') throw new Error('cannot handle ' + d);
    fs.appendFileSync(out, d + '\n');
  }
  return {batchItemFailures: []};
};

// The same with a callback.
exports.callback = (event, context, callback) => {
  exports.handler(event, context).then((r) => callback(null, r), (e) => callback(e));
};
`

const pythonHandler = `import base64, os

def lambda_handler(event, context):
    for r in event["Records"]:
        d = base64.b64decode(r["kinesis"]["data"]).decode()
        print("record", d, "of", context.function_name)  # a log, not the reply
        if d == "bad" and not os.path.exists(os.environ["MARK"]):
            open(os.environ["MARK"], "w").close()
            return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}]}
        if d == "throw":
            raise ValueError("cannot handle " + d)
        with open(os.environ["OUT"], "a") as f:
            f.write(d + "\n")
    return {"batchItemFailures": []}
`

// runHandler runs a real handler through a runner: a partial batch
// failure is retried from the failed record, a thrown error is a
// function error (its text in the stats), retried once
// (MaximumRetryAttempts 1), then described in the on-failure file.
func runHandler(t *testing.T, command, file, source string) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	out, mark := filepath.Join(dir, "out.txt"), filepath.Join(dir, "mark")
	clock := engine.NewManualClock(t0)
	e := newEngine(t, clock, 1)
	s := testSettings(clock)
	s.FunctionResponseTypes = []string{ReportBatchItemFailures}
	s.MaximumRetryAttempts = 1
	s.FunctionTimeoutSeconds = 30 // a loaded machine starts interpreters slowly
	s.OnFailure = filepath.Join(dir, "failed.jsonl")
	inv, err := NewInvoker(Settings{Exec: command, FunctionName: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	x := inv.(*ExecInvoker)
	x.Dir = dir
	x.Env = append(x.Env, "OUT="+out, "MARK="+mark)
	tr := newTrigger(t, e, s, x, nil)
	start(t, tr)
	put(t, e, "k", "1", "k", "2", "k", "bad", "k", "3")
	waitFor(t, 60*time.Second, "4 records", func() bool { return tr.Stats().Total.Records == 4 })
	put(t, e, "k", "throw")
	waitFor(t, 60*time.Second, "the on-failure record", func() bool { return tr.Stats().Total.OnFailure == 1 })
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, ",") != "1,2,bad,3" {
		t.Errorf("handled %v, want 1,2,bad,3 once each", got)
	}
	st := tr.Stats().Total
	if st.Invocations != 4 || st.Errors != 2 || st.Retries != 2 || !strings.HasSuffix(st.LastError, "Error: cannot handle throw") {
		t.Errorf("stats %+v: want 4 invocations, 2 retries, the 2 throws as errors", st)
	}
	if fs := failures(t, s.OnFailure); len(fs) != 1 || fs[0]["responseContext"].(map[string]any)["functionError"] != "Unhandled" {
		t.Errorf("on-failure records %v", fs)
	}
}

func runner(t *testing.T, name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNodeHandlerThroughTheRunner(t *testing.T) {
	node := needTool(t, "node")
	for _, fn := range []string{"handler", "callback"} {
		t.Run(fn, func(t *testing.T) {
			runHandler(t, node+" "+runner(t, "runner.js")+" index."+fn, "index.js", nodeHandler)
		})
	}
}

func TestPythonHandlerThroughTheRunner(t *testing.T) {
	py := needTool(t, "python3")
	runHandler(t, py+" "+runner(t, "runner.py")+" handler.lambda_handler", "handler.py", pythonHandler)
}
