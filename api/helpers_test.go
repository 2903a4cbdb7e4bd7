package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/storage"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// testEngine opens an engine over a store in a temp dir with no background
// trimmer; it is closed at cleanup.
func testEngine(t testing.TB, opts engine.Options) *engine.Engine {
	t.Helper()
	db, err := storage.Open(filepath.Join(t.TempDir(), "api.db"), storage.Options{Sync: storage.SyncNone})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if opts.RetentionInterval == 0 {
		opts.RetentionInterval = -1
	}
	e, err := engine.New(db, opts)
	if err != nil {
		db.Close()
		t.Fatalf("new engine: %v", err)
	}
	t.Cleanup(func() {
		e.Close()
		db.Close()
	})
	return e
}

// testLogger sends the handler's log lines to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testServer serves e on a loopback httptest server.
func testServer(t testing.TB, e *engine.Engine) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewHandler(e, Options{Logger: testLogger(t)}))
	t.Cleanup(srv.Close)
	return srv
}

// sdkClient is the real AWS SDK client pointed at url, with static
// credentials and a single attempt per call so error paths are fast.
func sdkClient(t testing.TB, url string) *kinesis.Client {
	t.Helper()
	// Keep the developer's own AWS files out of the test.
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")),
		config.WithRetryMaxAttempts(1),
	)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
}

// rawCall posts a body with a target and content type and returns the
// status, headers and body of the reply.
func rawCall(t testing.TB, url, target, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}
