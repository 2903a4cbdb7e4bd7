package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine"
)

// serveOn runs s on a loopback port until the test ends and returns its
// address.
func serveOn(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := s.Serve(ctx, ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ln.Addr().String()
}

// rawRequest is a PutRecord request's head announcing a body of n bytes.
func rawRequest(n int) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: %sPutRecord\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", TargetPrefix, ContentTypeJSON, n)
}

// wantTimeoutAndClose reads one reply from conn and requires the body
// timeout's error, then the end of the connection.
func wantTimeoutAndClose(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Amzn-ErrorType") != RequestTimeoutException {
		t.Fatalf("got %d %s %s, want 408 %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, RequestTimeoutException)
	}
	if !strings.Contains(string(b), `"__type":"RequestTimeoutException"`) {
		t.Fatalf("body %s", b)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after the reply: read %d bytes, %v; want the connection closed", n, err)
	}
}

// TestHeaderOnlyRequestsDoNotAllocateTheirContentLength: requests that
// announce a big body and send none cost the server a small buffer each,
// not the announced size, and are cut off at the body timeout with the
// error and a closed connection.
func TestHeaderOnlyRequestsDoNotAllocateTheirContentLength(t *testing.T) {
	e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0)})
	addr := serveOn(t, &Server{Handler: NewHandler(e, Options{BodyTimeout: 500 * time.Millisecond}), Logger: testLogger(t)})
	const conns, announced = 40, 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, rawRequest(announced)); err != nil {
				t.Error(err)
				return
			}
			wantTimeoutAndClose(t, conn)
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	// Allocating the announced bodies would be 320 MiB; small buffers and
	// the server's own bookkeeping are a few MiB.
	if got := after.TotalAlloc - before.TotalAlloc; got > conns*announced/8 {
		t.Fatalf("%d header-only requests allocated %d MiB", conns, got>>20)
	}
}

// TestSlowBodyIsCutOff: a body that starts and then stalls gets the error
// at the body timeout and a closed connection, while a complete request
// on another connection is served.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0), DisableLimits: true})
	addr := serveOn(t, &Server{Handler: NewHandler(e, Options{BodyTimeout: 300 * time.Millisecond}), Logger: testLogger(t)})
	body := `{"StreamName":"s","PartitionKey":"k","Data":"eA=="}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, rawRequest(len(body))+body[:10]); err != nil {
		t.Fatal(err)
	}
	wantTimeoutAndClose(t, conn)
	if st, _, b := rawCall(t, "http://"+addr, TargetPrefix+"ListStreams", ContentTypeJSON, []byte(`{}`)); st != 200 {
		t.Fatalf("ListStreams after the cut: %d %s", st, b)
	}
}

// TestMaxConnsHolds: with a cap of two, a third connection is not served
// while two are open, and is served as soon as one closes.
func TestMaxConnsHolds(t *testing.T) {
	e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0)})
	addr := serveOn(t, &Server{Handler: NewHandler(e, Options{}), Logger: testLogger(t), MaxConns: 2})
	list := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: %sListStreams\r\nContent-Type: %s\r\nContent-Length: 2\r\n\r\n{}", TargetPrefix, ContentTypeJSON)
	call := func(conn net.Conn, wait time.Duration) error {
		if _, err := io.WriteString(conn, list); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	var open []net.Conn
	for i := 0; i < 2; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := call(conn, 20*time.Second); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		open = append(open, conn)
	}
	third, err := net.Dial("tcp", addr) // the kernel accepts; the server does not
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	// Proving a negative needs a wait; a served request takes well under this.
	err = call(third, 500*time.Millisecond)
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("third connection with two open: %v, want no reply", err)
	}
	open[0].Close()
	// The request already sent is answered once a slot frees.
	_ = third.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("third connection after one closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("third connection: status %d", resp.StatusCode)
	}
}

// TestSlowBodyIsCutOffOverHTTP2: the body deadline holds on a cleartext
// HTTP/2 stream too, and the connection keeps serving other streams.
func TestSlowBodyIsCutOffOverHTTP2(t *testing.T) {
	e := testEngine(t, engine.Options{Clock: engine.NewManualClock(t0), DisableLimits: true})
	addr := serveOn(t, &Server{Handler: NewHandler(e, Options{BodyTimeout: 300 * time.Millisecond}), Logger: testLogger(t)})
	c := h2cClient()
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = io.WriteString(pw, `{"StreamName":"s",`) }() // and then nothing
	req, err := http.NewRequest(http.MethodPost, "http://"+addr, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", TargetPrefix+"PutRecord")
	req.Header.Set("Content-Type", ContentTypeJSON)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Amzn-ErrorType") != RequestTimeoutException {
		t.Fatalf("got %s %d %s %s, want HTTP/2 408 %s", resp.Proto, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b, RequestTimeoutException)
	}
	req, err = http.NewRequest(http.MethodPost, "http://"+addr, strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", TargetPrefix+"ListStreams")
	req.Header.Set("Content-Type", ContentTypeJSON)
	resp, err = c.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ListStreams after the cut: %d", resp.StatusCode)
	}
}
