package trigger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Invoker calls the function with an event and returns its reply. A
// *FunctionError says the function ran and failed (it counts against
// MaximumRetryAttempts); any other error says it could not be reached (it
// is retried without counting, as Lambda does with throttles).
type Invoker interface {
	Invoke(ctx context.Context, event []byte) (reply []byte, err error)
}

// InvokerFunc adapts a function to an Invoker.
type InvokerFunc func(ctx context.Context, event []byte) ([]byte, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, event []byte) ([]byte, error) { return f(ctx, event) }

// FunctionError is a failed invocation: what the function said.
type FunctionError struct {
	Message string
}

func (e *FunctionError) Error() string { return e.Message }

// maxErrorText bounds the error text kept from a function.
const maxErrorText = 4096

func errorText(b []byte, fallback string) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxErrorText {
		s = "…" + s[len(s)-maxErrorText:]
	}
	if s == "" {
		return fallback
	}
	return s
}

// ExecInvoker runs a command line (with sh -c) per invocation: the event
// on its stdin, its stdout the reply. A non-zero exit is a function error
// whose text is the command's stderr; a command that cannot start is not
// reached. Env is added to the command's environment (the trigger adds
// AWS_LAMBDA_FUNCTION_NAME, AWS_REGION and the others a runner reads).
type ExecInvoker struct {
	Command string
	Dir     string
	Env     []string
}

// Invoke runs the command once.
func (x *ExecInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", x.Command)
	cmd.Dir = x.Dir
	cmd.Env = append(os.Environ(), x.Env...)
	cmd.Env = append(cmd.Env, "SHARDSCOPE_REQUEST_ID="+newUUID())
	if d, ok := ctx.Deadline(); ok {
		cmd.Env = append(cmd.Env, fmt.Sprintf("SHARDSCOPE_DEADLINE_MS=%d", d.UnixMilli()))
	}
	cmd.Stdin = bytes.NewReader(event)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return out.Bytes(), nil
	}
	if ctx.Err() != nil {
		return nil, &FunctionError{Message: timeoutText(ctx, errb.Bytes())}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == 127 { // sh: command not found
			return nil, fmt.Errorf("exec %q: %s", x.Command, errorText(errb.Bytes(), "command not found"))
		}
		return nil, &FunctionError{Message: errorText(errb.Bytes(), ee.Error())}
	}
	return nil, fmt.Errorf("exec %q: %w", x.Command, err)
}

// URLInvoker POSTs the event to URL; a 2xx response is a success with the
// body as the reply, any other status a function error with the body as
// its text. An unreachable endpoint is not reached.
type URLInvoker struct {
	URL    string
	Client *http.Client // default http.DefaultClient
}

// Invoke posts the event once.
func (u *URLInvoker) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.URL, bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := u.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &FunctionError{Message: timeoutText(ctx, nil)}
		}
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPayload+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, &FunctionError{Message: errorText(body, resp.Status)}
	}
	return body, nil
}

// timeoutKey carries the invocation's timeout, for the error text.
type timeoutKey struct{}

func timeoutText(ctx context.Context, stderr []byte) string {
	if d, ok := ctx.Value(timeoutKey{}).(time.Duration); ok && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("Task timed out after %.2f seconds", d.Seconds())
	}
	return errorText(stderr, "invocation cancelled")
}
