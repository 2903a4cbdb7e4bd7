package api

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/shardscope/shardscope/engine"
	"golang.org/x/net/http2"
)

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP, as the Java
// SDK v2 async client does on an http:// endpoint.
func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// startServer runs Serve on a loopback port until the returned cancel is
// called; done receives Serve's result.
func startServer(t *testing.T, h http.Handler) (url string, cancel context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		errc <- Serve(ctx, ln, h, testLogger(t))
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return "http://" + ln.Addr().String(), cancel, errc
}

func TestHTTP2PriorKnowledge(t *testing.T) {
	e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0)})
	url, _, _ := startServer(t, NewHandler(e, Options{}))

	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", TargetPrefix+"ListStreams")
	req.Header.Set("Content-Type", ContentTypeJSON)
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(body) != `{"StreamNames":[],"HasMoreStreams":false,"StreamSummaries":[]}` {
		t.Fatalf("h2c ListStreams: %s %d %s", resp.Proto, resp.StatusCode, body)
	}

	// The SDK over the same transport, and HTTP/1.1 on the same port.
	c := sdkClient(t, url)
	h2 := kinesis.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: c.Options().Credentials, HTTPClient: h2cClient(), RetryMaxAttempts: 1},
		func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
	if _, err := h2.CreateStream(bg, &kinesis.CreateStreamInput{StreamName: aws.String("h2"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	l, err := c.ListStreams(bg, &kinesis.ListStreamsInput{})
	if err != nil || len(l.StreamNames) != 1 || l.StreamNames[0] != "h2" {
		t.Fatalf("HTTP/1.1 ListStreams: %v %+v", err, l)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
		io.WriteString(w, "finished "+r.Proto)
	})
	url, cancel, done := startServer(t, h)

	type result struct {
		body string
		err  error
	}
	results := make(chan result, 2)
	for _, c := range []*http.Client{http.DefaultClient, h2cClient()} {
		go func() {
			resp, err := c.Post(url, ContentTypeJSON, strings.NewReader(`{}`))
			if err != nil {
				results <- result{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			results <- result{string(b), err}
		}()
	}
	<-started
	<-started
	cancel()

	// Serving stops (no new connections) while the two requests are in flight.
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 100*time.Millisecond)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before in-flight requests finished", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	got := map[string]bool{}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("in-flight request failed: %v", r.err)
		}
		got[r.body] = true
	}
	if !got["finished HTTP/1.1"] || !got["finished HTTP/2.0"] {
		t.Fatalf("in-flight replies %v", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the in-flight requests finished")
	}
}
