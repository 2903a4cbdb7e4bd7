package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
	gojson "github.com/goccy/go-json"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/engine"
)

// Content types of the two encodings of the protocol.
const (
	ContentTypeJSON = "application/x-amz-json-1.1"
	ContentTypeCBOR = "application/x-amz-cbor-1.1"
)

// TargetPrefix is the X-Amz-Target prefix of every Kinesis action.
const TargetPrefix = "Kinesis_20131202."

// DefaultMaxBodyBytes is the default request size limit. It sits well above
// the largest valid request (a 5 MiB PutRecords is about 6.7 MiB of JSON) so
// that slightly oversized batches get the engine's own "Records size exceeds
// 5 MB limit" error rather than a bare 413.
const DefaultMaxBodyBytes = 16 << 20

// DefaultBodyTimeout is how long a request body may take to arrive once
// the headers are in. A body that is slower, or never comes, gets
// RequestTimeoutException and a closed connection.
const DefaultBodyTimeout = 30 * time.Second

// firstBodyChunk is the buffer a body starts in; it grows with what
// arrives, never to more than the body's Content-Length, so a client that
// announces a big body and sends nothing costs the server next to nothing.
const firstBodyChunk = 16 << 10

// Wire-only error names: the ones the service's front end returns before an
// action runs. The engine's names (engine.ErrorCode) are used for the rest.
const (
	SerializationException    = "SerializationException"
	UnknownOperationException = "UnknownOperationException"
	RequestTimeoutException   = "RequestTimeoutException"
	AccessDeniedException     = "AccessDeniedException"
)

// Options configure a handler.
type Options struct {
	// Logger receives one debug line per request and the details of
	// internal failures; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; larger requests get HTTP 413 as
	// from the service. Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyTimeout bounds the time a request body takes to arrive. Zero
	// means DefaultBodyTimeout; negative means no bound.
	BodyTimeout time.Duration
	// Auth, when set, verifies every request's Signature Version 4 against
	// its keys; nil serves unsigned requests as before.
	Auth *auth.Verifier
	// Policies, when set with Auth, decides every signed request with the
	// caller's identity policies and the resource's policy.
	Policies *auth.Authorizer
}

type handler struct {
	e           *engine.Engine
	log         *slog.Logger
	maxBody     int64
	bodyTimeout time.Duration
	auth        *auth.Verifier
	policies    *auth.Authorizer
}

// NewHandler returns an http.Handler that serves e over the Kinesis wire
// protocol (AWS JSON 1.1 and its CBOR variant) on any path.
func NewHandler(e *engine.Engine, opts Options) http.Handler {
	h := &handler{e: e, log: opts.Logger, maxBody: opts.MaxBodyBytes, bodyTimeout: opts.BodyTimeout, auth: opts.Auth, policies: opts.Policies}
	if h.auth == nil {
		h.policies = nil // no caller to decide for
	}
	if h.bodyTimeout == 0 {
		h.bodyTimeout = DefaultBodyTimeout
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	return h
}

// apiError is an error as it goes on the wire: a name, a message and the
// HTTP status (0 means 400, or 500 for InternalFailure).
type apiError struct {
	Code    string
	Message string
	Status  int
	cause   error // logged, never sent
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func (e *apiError) status() int {
	switch {
	case e.Status != 0:
		return e.Status
	case e.Code == string(engine.InternalFailure):
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func serializationError(format string, args ...any) *apiError {
	return &apiError{Code: SerializationException, Message: fmt.Sprintf(format, args...)}
}

func internalFailure(cause error) *apiError {
	return &apiError{Code: string(engine.InternalFailure), Message: "Internal service failure.", cause: cause}
}

// toAPIError turns what an action returned into a wire error. Engine errors
// keep their name and message unchanged; anything else is an internal
// failure whose cause is logged, not shown.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ee *engine.Error
	if errors.As(err, &ee) && ee != nil && ee.Code != "" {
		return &apiError{Code: string(ee.Code), Message: ee.Message, cause: ee.Err}
	}
	return internalFailure(err)
}

// wireCodec is the body encoding of one request and its reply.
type wireCodec struct {
	cbor bool
	// plain is set for Content-Type application/json, which the service's
	// front end answers itself instead of passing it to Kinesis.
	plain bool
}

// codecFor picks the encoding from the request's Content-Type. Only the
// CBOR type selects CBOR; JSON 1.1 and anything else, or none, is read as
// JSON, except application/json (see wireCodec.plain).
func codecFor(contentType string) wireCodec {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(contentType))
	}
	return wireCodec{cbor: mt == ContentTypeCBOR, plain: mt == "application/json"}
}

func (c wireCodec) contentType() string {
	if c.cbor {
		return ContentTypeCBOR
	}
	return ContentTypeJSON
}

func (c wireCodec) decode(body []byte) (map[string]any, *apiError) {
	if c.cbor {
		return decodeCBOR(body)
	}
	return decodeJSON(body)
}

var cborEnc = func() cbor.EncMode {
	em, err := cbor.EncOptions{}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

func (c wireCodec) marshal(v any) ([]byte, error) {
	if c.cbor {
		return cborEnc.Marshal(v)
	}
	// Like the service, leave <, > and & unescaped in messages and data.
	// (Marshal encodes into a pooled buffer and returns one exact copy.)
	return gojson.MarshalWithOption(v, gojson.DisableHTMLEscape())
}

// errorBody is the body of every error reply.
type errorBody struct {
	Type    string `json:"__type"`
	Message string `json:"message"`
}

// frontEndErrorBody is the body of the errors the service's front end
// sends before an action runs: their text is under "Message".
type frontEndErrorBody struct {
	Type    string `json:"__type"`
	Message string `json:"Message"`
}

func errorBodyFor(e *apiError) any {
	if e.Code == SerializationException || e.Code == UnknownOperationException {
		return frontEndErrorBody{Type: e.Code, Message: e.Message}
	}
	return errorBody{Type: e.Code, Message: e.Message}
}

// ServeHTTP answers one request.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	hdr := w.Header()
	hdr.Set("x-amzn-RequestId", newRequestID())
	hdr.Set("x-amz-id-2", newID2())
	if r.Header.Get("Origin") != "" {
		// Any origin may call: the engine is a local development service
		// and the SDKs in browsers sign requests themselves.
		hdr.Set("Access-Control-Allow-Origin", "*")
		hdr.Set("Access-Control-Expose-Headers", "x-amzn-RequestId, x-amzn-ErrorType, x-amz-id-2, x-amzn-ErrorMessage, Date")
	}
	if r.Method == http.MethodOptions {
		h.preflight(w, r)
		return
	}
	c := codecFor(r.Header.Get("Content-Type"))
	action := strings.TrimSpace(r.Header.Get("X-Amz-Target"))
	status := h.serve(w, r, c, action)
	h.log.Debug("request", "action", strings.TrimPrefix(action, TargetPrefix), "status", status,
		"duration", time.Since(start), "proto", r.Proto, "request_id", hdr.Get("x-amzn-RequestId"))
}

// preflight answers a CORS preflight.
func (h *handler) preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		hdr.Set("Access-Control-Allow-Headers", rh)
	} else {
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, X-Amz-Target, X-Amz-Date, X-Amz-Security-Token, X-Amz-User-Agent, Authorization, Amz-Sdk-Invocation-Id, Amz-Sdk-Request")
	}
	hdr.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	hdr.Set("Access-Control-Max-Age", "172800")
	hdr.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// serve runs one action and writes its reply; it returns the status sent.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, c wireCodec, target string) (status int) {
	defer func() {
		if p := recover(); p != nil {
			h.log.Error("panic serving request", "target", target, "panic", p, "stack", string(debug.Stack()))
			status = h.writeError(w, c, internalFailure(fmt.Errorf("panic: %v", p)))
		}
	}()
	if r.Method != http.MethodPost {
		return h.writeError(w, c, &apiError{Code: AccessDeniedException, Message: "Unable to determine service/operation name to be authorized", Status: http.StatusForbidden})
	}
	if c.plain {
		return h.plainJSON(w, r)
	}
	name, ok := strings.CutPrefix(target, TargetPrefix)
	act := actions[name]
	if !ok || act == nil {
		msg := "Missing X-Amz-Target header; expected " + TargetPrefix + "<Action>."
		switch {
		case target != "" && !ok:
			msg = fmt.Sprintf("Unknown service target %q; expected %s<Action>.", clip(target), TargetPrefix)
		case target != "":
			msg = fmt.Sprintf("Operation %s is not supported by shardscope.", clip(name))
		}
		return h.writeError(w, c, &apiError{Code: UnknownOperationException, Message: msg})
	}
	if r.ContentLength > h.maxBody {
		w.Header().Set("Connection", "close") // the rest of the body is not read
		return h.tooLarge(w, c)
	}
	body, err := h.readBody(w, r)
	if err != nil {
		// The connection's state is unknown after a failed body: close it.
		w.Header().Set("Connection", "close")
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return h.tooLarge(w, c)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return h.writeError(w, c, &apiError{Code: RequestTimeoutException, Status: http.StatusRequestTimeout,
				Message: fmt.Sprintf("The request body did not arrive within %v.", h.bodyTimeout)})
		}
		// The client went away or sent a broken body: nothing useful to say.
		return h.writeError(w, c, serializationError("Could not read the request body: %v", err))
	}
	// Decode, then authenticate, then authorize: as at the service, a
	// body that is not JSON (or CBOR) is a SerializationException even
	// unsigned, and the policy needs the resource the body names.
	var fastArgs engine.PutRecordsInput
	var m map[string]any
	exact := !c.cbor && needsExactStrings(body)
	fast := false
	if name == "PutRecords" && !c.cbor && !exact {
		fastArgs, fast = fastPutRecords(body)
	}
	if !fast {
		var aerr *apiError
		if exact {
			m, aerr = decodeJSONExact(body)
		} else {
			m, aerr = c.decode(body)
		}
		if aerr != nil {
			return h.writeError(w, c, aerr)
		}
	}
	if h.auth != nil {
		caller, aerr := h.auth.Verify(r, body)
		if aerr != nil {
			return h.writeError(w, c, &apiError{Code: aerr.Code, Message: aerr.Message, Status: aerr.Status})
		}
		members := m
		if fast {
			members = refMembers(fastArgs.StreamRef)
		}
		if aerr := h.authorize(r, caller, name, members); aerr != nil {
			return h.writeError(w, c, aerr)
		}
	}
	var out any
	if fast {
		out, err = runPutRecords(r.Context(), h.e, fastArgs)
	} else {
		out, err = act(r.Context(), h.e, newObject(m))
	}
	if err != nil {
		return h.writeError(w, c, toAPIError(err))
	}
	if s, ok := out.(streamReply); ok {
		return s.serveStream(h, w, r, c)
	}
	b, err := c.marshal(out)
	if err != nil {
		return h.writeError(w, c, internalFailure(err))
	}
	return h.write(w, c, http.StatusOK, b)
}

// readBody reads the whole request body, at most h.maxBody bytes, within
// h.bodyTimeout. The buffer grows with what arrives, never past the
// Content-Length when there is one (a PutRecords of 500 × 1 KiB records is
// ~700 KB: three steps), and is never allocated for bytes that may not come.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (_ []byte, err error) {
	if h.bodyTimeout > 0 {
		rc := http.NewResponseController(w)
		// Not every ResponseWriter can (a test recorder); then no bound.
		if rc.SetReadDeadline(time.Now().Add(h.bodyTimeout)) == nil {
			// Lift it once read: a streamed reply must not inherit it. After
			// a failure keep it, or net/http would wait without bound to
			// drain the rest of a stalled body before closing.
			defer func() {
				if err == nil {
					_ = rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	body := http.MaxBytesReader(w, r.Body, h.maxBody)
	n := r.ContentLength
	if n <= 0 {
		return io.ReadAll(body)
	}
	buf := make([]byte, 0, min(n, firstBodyChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			// Four times what arrived: few copies for an honest client.
			buf = slices.Grow(buf, int(min(3*int64(len(buf)), n-int64(len(buf)))))
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
	}
	return buf, nil // net/http stops the body at Content-Length
}

// plainJSON answers a request sent as application/json the way the
// service's front end does: HTTP 200 and a generic Coral envelope naming
// UnknownOperationException (SerializationException when the body is not
// a JSON object). No Kinesis action runs.
func (h *handler) plainJSON(w http.ResponseWriter, r *http.Request) int {
	typ := "UnknownOperationException"
	body, err := h.readBody(w, r)
	if err == nil {
		var m map[string]any
		if gojson.Unmarshal(body, &m) != nil || m == nil {
			typ = SerializationException
		}
	}
	b := []byte(`{"Output":{"__type":"com.amazon.coral.service#` + typ + `","message":null},"Version":"1.0"}`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(b); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	return http.StatusOK
}

// tooLarge answers a body over the limit the way the service's front end
// does: HTTP 413 and no error name, so SDKs report the status code.
func (h *handler) tooLarge(w http.ResponseWriter, c wireCodec) int {
	b, _ := c.marshal(map[string]string{"message": fmt.Sprintf("Request body is larger than %d bytes.", h.maxBody)})
	return h.write(w, c, http.StatusRequestEntityTooLarge, b)
}

func (h *handler) writeError(w http.ResponseWriter, c wireCodec, e *apiError) int {
	status := e.status()
	switch {
	case status >= 500 && errors.Is(e.cause, context.Canceled):
		// The client hung up mid-call: worth a trace, not an alarm.
		h.log.Debug("request cancelled by the client", "message", e.Message)
	case status >= 500:
		h.log.Error("internal failure", "code", e.Code, "message", e.Message, "cause", e.cause)
	}
	b, err := c.marshal(errorBodyFor(e))
	if err != nil {
		b = []byte(`{"__type":"InternalFailure","message":"Internal service failure."}`)
	}
	// SDKs read the name from this header before the body; it must match.
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	return h.write(w, c, status, b)
}

func (h *handler) write(w http.ResponseWriter, c wireCodec, status int, b []byte) int {
	hdr := w.Header()
	hdr.Set("Content-Type", c.contentType())
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	if _, err := w.Write(b); err != nil {
		h.log.Debug("writing reply", "err", err)
	}
	return status
}

// newRequestID returns a random (version 4) UUID, as the service's request ids are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// newID2 returns an opaque x-amz-id-2 value like the service's.
func newID2() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// action is one Kinesis action: read the request's members, call the
// engine, return the reply's members.
type action func(ctx context.Context, e *engine.Engine, in object) (any, error)
