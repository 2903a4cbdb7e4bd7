package api

import (
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// TestEndToEndServiceAnswersBoto3 runs testdata/e2e_service_answers.py
// (boto3) against an engine with state delays: short shard ids, the
// service's error texts and validation, and what a stream shows while
// CREATING, UPDATING and DELETING.
func TestEndToEndServiceAnswersBoto3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: boto3 takes a while to start")
	}
	e := testEngine(t, engine.Options{DisableLimits: true, CreateDelay: time.Second, UpdateDelay: 2 * time.Second, DeleteDelay: time.Second})
	url, _, _ := startServer(t, NewHandler(e, Options{Logger: testLogger(t)}))
	runClientScript(t, "boto3", "testdata/e2e_service_answers.py", url)
}
