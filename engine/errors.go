package engine

import (
	"errors"
	"fmt"
)

// ErrorCode is the name the Kinesis service gives an error, used unchanged
// on the wire and on the screen.
type ErrorCode string

// The Kinesis error names the engine returns.
const (
	// ValidationException: a parameter failed a model constraint (length, pattern, range).
	ValidationException ErrorCode = "ValidationException"
	// InvalidArgumentException: a parameter is well-formed but not acceptable here.
	InvalidArgumentException ErrorCode = "InvalidArgumentException"
	// ResourceNotFoundException: the stream, shard or consumer does not exist.
	ResourceNotFoundException ErrorCode = "ResourceNotFoundException"
	// ResourceInUseException: the resource exists already or is not in a state that allows the call.
	ResourceInUseException ErrorCode = "ResourceInUseException"
	// LimitExceededException: a control-plane quota or rule was exceeded.
	LimitExceededException ErrorCode = "LimitExceededException"
	// ExpiredIteratorException: the shard iterator is older than five minutes.
	ExpiredIteratorException ErrorCode = "ExpiredIteratorException"
	// ExpiredNextTokenException: a paging token is older than five minutes.
	ExpiredNextTokenException ErrorCode = "ExpiredNextTokenException"
	// ProvisionedThroughputExceededException: a shard's read or write budget is spent.
	ProvisionedThroughputExceededException ErrorCode = "ProvisionedThroughputExceededException"
	// KMSDisabledException: the stream's KMS key is disabled.
	KMSDisabledException ErrorCode = "KMSDisabledException"
	// KMSNotFoundException: the KMS key named does not exist.
	KMSNotFoundException ErrorCode = "KMSNotFoundException"
	// KMSInvalidStateException: the KMS key's state does not allow the call (pending deletion).
	KMSInvalidStateException ErrorCode = "KMSInvalidStateException"
	// KMSAccessDeniedException: sealed records name a KMS key that is gone or do not open under it.
	KMSAccessDeniedException ErrorCode = "KMSAccessDeniedException"
	// InternalFailure: the engine failed for a reason of its own (storage error, closing).
	InternalFailure ErrorCode = "InternalFailure"
)

// Error is the engine's one error type: a Kinesis error name and a message
// that says what was wrong.
type Error struct {
	Code    ErrorCode
	Message string
	// Err is the underlying cause, if any (for example a storage error).
	Err error
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrClosed is returned by SubscribeToShard, and by the Next of its
// subscriptions, once the engine is closed. It is deliberately no Kinesis
// error: nothing will change for a client that retries it.
var ErrClosed = errors.New("engine is closed")

func newError(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func internalError(err error) *Error {
	return &Error{Code: InternalFailure, Message: "Internal service failure.", Err: err}
}

// CodeOf returns the Kinesis error name carried by err, or "" when err is
// nil or not an engine error.
func CodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsCode reports whether err carries the given Kinesis error name.
func IsCode(err error, code ErrorCode) bool { return err != nil && CodeOf(err) == code }
