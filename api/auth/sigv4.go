package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Error names of authentication failures, as the service sends them.
const (
	MissingAuthenticationToken = "MissingAuthenticationTokenException"
	IncompleteSignature        = "IncompleteSignatureException"
	InvalidSignature           = "InvalidSignatureException"
	UnrecognizedClient         = "UnrecognizedClientException"
	ExpiredToken               = "ExpiredTokenException"
	AccessDenied               = "AccessDeniedException"
)

// Error is a refused request: the service's error name, its message and
// the HTTP status (400 for all of them, as from Kinesis).
type Error struct {
	Code    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: http.StatusBadRequest}
}

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// DefaultMaxSkew is how far X-Amz-Date may be from the server's clock.
const DefaultMaxSkew = 5 * time.Minute

// UnsignedPayload is the payload hash of a body the signature leaves out.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

const amzDateFormat = "20060102T150405Z"

// Signature is the parsed signature of a request, from its Authorization
// header or its query string.
type Signature struct {
	AccessKeyID   string
	Date          string // yyyymmdd of the scope
	Region        string
	Service       string
	Terminator    string
	SignedHeaders []string // lowercase, as given
	Signature     string   // lowercase hex
	Presigned     bool
}

// Scope returns date/region/service/terminator.
func (s Signature) Scope() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + s.Terminator
}

// ParseAuthorization parses an Authorization header of the form
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex". Parts may be separated by commas,
// spaces or both, as the SDKs differ. Missing parts give
// IncompleteSignatureException with the service's wording; hasDate says
// whether the request has an X-Amz-Date or Date header.
func ParseAuthorization(h string, hasDate bool) (Signature, *Error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, _ := strings.Cut(f, "=")
		params[k] = v
	}
	var msg strings.Builder
	for _, p := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[p] == "" {
			fmt.Fprintf(&msg, "Authorization header requires '%s' parameter. ", p)
		}
	}
	if !hasDate {
		msg.WriteString("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
	}
	if msg.Len() > 0 {
		return Signature{}, fail(IncompleteSignature, "%sAuthorization=%s", msg.String(), clip(h))
	}
	if alg != Algorithm {
		return Signature{}, fail(IncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", clip(alg))
	}
	return parseParts(params["Credential"], params["SignedHeaders"], params["Signature"])
}

func parseParts(cred, signed, sig string) (Signature, *Error) {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return Signature{}, fail(IncompleteSignature, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", clip(cred))
	}
	s := Signature{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3], Terminator: parts[4], Signature: sig}
	s.SignedHeaders = strings.Split(signed, ";")
	return s, nil
}

// parseQuery reads a presigned request's signature from its query.
func parseQuery(q url.Values) (Signature, *Error) {
	var msg strings.Builder
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"} {
		if q.Get(p) == "" {
			fmt.Fprintf(&msg, "AWS query-string parameters must include '%s'. ", p)
		}
	}
	if msg.Len() > 0 {
		return Signature{}, fail(IncompleteSignature, "%sRe-examine the query-string parameters.", msg.String())
	}
	if alg := q.Get("X-Amz-Algorithm"); alg != Algorithm {
		return Signature{}, fail(IncompleteSignature, "Unsupported AWS 'algorithm': '%s'.", clip(alg))
	}
	s, err := parseParts(q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature"))
	s.Presigned = true
	return s, err
}

func clip(s string) string {
	if len(s) > 512 {
		return s[:512] + "…"
	}
	return s
}

// Identity is who signed a request.
type Identity struct {
	// Principal is the signer's ARN.
	Principal string
	// AccessKeyID is the key that signed.
	AccessKeyID string
}

// Verifier checks the Signature Version 4 of requests against a set of
// keys. It is safe for concurrent use.
type Verifier struct {
	// Keys are the accepted access keys.
	Keys *Credentials
	// Region is the only region a scope may name.
	Region string
	// Service is the service a scope must name; "" means "kinesis".
	Service string
	// Now is the server's clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds |X-Amz-Date − now|; zero means DefaultMaxSkew.
	MaxSkew time.Duration

	once   sync.Once
	signer *v4.Signer
	keys   sync.Map // scope key → derived signing key
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) service() string {
	if v.Service == "" {
		return "kinesis"
	}
	return v.Service
}

// Verify checks r's signature, with body its whole body, and returns who
// signed it, or the error the service would send.
func (v *Verifier) Verify(r *http.Request, body []byte) (Identity, *Error) {
	authz := r.Header.Get("Authorization")
	q := r.URL.Query()
	_, presigned := q["X-Amz-Algorithm"]
	switch {
	case authz != "" && presigned:
		return Identity{}, fail(InvalidSignature, "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.")
	case authz == "" && !presigned:
		return Identity{}, fail(MissingAuthenticationToken, "Missing Authentication Token")
	}
	var sig Signature
	var err *Error
	dateValue := r.Header.Get("X-Amz-Date")
	if presigned {
		sig, err = parseQuery(q)
		dateValue = q.Get("X-Amz-Date")
	} else {
		if dateValue == "" {
			dateValue = r.Header.Get("Date")
		}
		sig, err = ParseAuthorization(authz, dateValue != "")
	}
	if err != nil {
		return Identity{}, err
	}
	at, ok := parseDate(dateValue)
	if !ok {
		return Identity{}, fail(IncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '%s'. See http://en.wikipedia.org/wiki/ISO_8601", clip(dateValue))
	}
	key := v.Keys.Lookup(sig.AccessKeyID)
	if key == nil {
		return Identity{}, fail(UnrecognizedClient, "The security token included in the request is invalid.")
	}
	if err := v.checkScope(sig, at); err != nil {
		return Identity{}, err
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if presigned {
		token = q.Get("X-Amz-Security-Token")
	}
	if token != key.SessionToken {
		return Identity{}, fail(UnrecognizedClient, "The security token included in the request is invalid.")
	}
	now := v.now()
	if !key.Expires.IsZero() && !now.Before(key.Expires) {
		return Identity{}, fail(ExpiredToken, "The security token included in the request is expired")
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	switch {
	case at.Before(now.Add(-skew)):
		return Identity{}, fail(InvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s.)",
			at.Format(amzDateFormat), now.Add(-skew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), minutes(skew))
	case at.After(now.Add(skew)):
		return Identity{}, fail(InvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s.)",
			at.Format(amzDateFormat), now.Add(skew).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), minutes(skew))
	}
	if presigned {
		if exp, err := strconv.Atoi(q.Get("X-Amz-Expires")); err == nil && now.After(at.Add(time.Duration(exp)*time.Second)) {
			return Identity{}, fail(InvalidSignature, "Signature expired: %s is now earlier than %s (%s - %d sec.)",
				at.Format(amzDateFormat), now.Add(-time.Duration(exp)*time.Second).UTC().Format(amzDateFormat), now.UTC().Format(amzDateFormat), exp)
		}
	}
	if err := checkSignedHeaders(sig.SignedHeaders, r); err != nil {
		return Identity{}, err
	}
	payload, perr := payloadHash(r, body, sig)
	if perr != nil {
		return Identity{}, perr
	}
	if !v.matches(r, sig, key, at, payload) {
		return Identity{}, fail(InvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return Identity{Principal: key.Principal, AccessKeyID: key.AccessKeyID}, nil
}

func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

// parseDate reads X-Amz-Date's basic ISO 8601 form, or an HTTP Date.
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(amzDateFormat, s); err == nil {
		return t, true
	}
	if t, err := http.ParseTime(s); err == nil {
		return t.UTC(), true
	}
	return time.Time{}, false
}

func (v *Verifier) checkScope(sig Signature, at time.Time) *Error {
	switch {
	case sig.Terminator != "aws4_request":
		return fail(InvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", clip(sig.Terminator))
	case sig.Service != v.service():
		return fail(InvalidSignature, "Credential should be scoped to correct service: '%s'. ", v.service())
	case sig.Region != v.Region:
		return fail(InvalidSignature, "Credential should be scoped to a valid region, not '%s'. ", clip(sig.Region))
	case sig.Date != at.Format("20060102"):
		return fail(InvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			clip(sig.Date), at.Format("20060102"), at.Format(amzDateFormat))
	}
	return nil
}

func checkSignedHeaders(names []string, r *http.Request) *Error {
	host := false
	for i, n := range names {
		if n == "" || n != strings.ToLower(n) || (i > 0 && names[i-1] >= n) {
			return fail(InvalidSignature, "The SignedHeaders list must be lowercase header names, sorted and without repeats.")
		}
		if n == "host" || n == ":authority" {
			host = true
		}
	}
	if !host {
		return fail(InvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return nil
}

// payloadHash is the body's hash as the canonical request carries it:
// X-Amz-Content-Sha256 when sent (UNSIGNED-PAYLOAD included), which must
// then be the body's true hash, else the hash of body.
func payloadHash(r *http.Request, body []byte, sig Signature) (string, *Error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	claimed := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case claimed == "" && sig.Presigned:
		return UnsignedPayload, nil
	case claimed == "":
		return actual, nil
	case claimed == UnsignedPayload:
		return claimed, nil
	case strings.HasPrefix(claimed, "STREAMING-"):
		return "", fail(InvalidSignature, "Chunked payload signing (%s) is not supported by Kinesis.", clip(claimed))
	case claimed != actual:
		return "", fail(InvalidSignature, "The provided 'x-amz-content-sha256' header does not match what was computed.")
	}
	return actual, nil
}

// sdkIgnored are the headers aws-sdk-go-v2's signer never signs; a
// request that signed one is checked by the hand-written canonicalizer.
var sdkIgnored = map[string]bool{"authorization": true, "user-agent": true, "x-amzn-trace-id": true, "expect": true, "transfer-encoding": true}

// matches recomputes the signature. Where it fits (header signatures that
// sign X-Amz-Date and no header the SDK ignores) aws-sdk-go-v2's own
// signer re-signs a copy of the request; otherwise, or when the two
// disagree on the host form, the canonical request is built here from the
// bytes received.
func (v *Verifier) matches(r *http.Request, sig Signature, key *Key, at time.Time, payload string) bool {
	want := []byte(sig.Signature)
	if !sig.Presigned && v.sdkFits(sig) {
		if got, ok := v.sdkSignature(r, sig, key, at, payload); ok && subtle.ConstantTimeCompare([]byte(got), want) == 1 {
			return true
		}
	}
	got := hex.EncodeToString(hmacSHA256(v.signingKey(key.Secret, sig), []byte(StringToSign(at, sig.Scope(), CanonicalRequest(r, sig, payload)))))
	return subtle.ConstantTimeCompare([]byte(got), want) == 1
}

func (v *Verifier) sdkFits(sig Signature) bool {
	date := false
	for _, n := range sig.SignedHeaders {
		if sdkIgnored[n] || n == ":authority" {
			return false
		}
		date = date || n == "x-amz-date"
	}
	return date
}

// sdkSignature re-signs a copy of r that carries only the signed headers
// with the SDK's signer; ok is false when the signer would sign a
// different header set than the client did.
func (v *Verifier) sdkSignature(r *http.Request, sig Signature, key *Key, at time.Time, payload string) (string, bool) {
	v.once.Do(func() { v.signer = v4.NewSigner() })
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	req := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header, len(sig.SignedHeaders))}
	creds := aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.Secret}
	for _, n := range sig.SignedHeaders {
		switch n {
		case "host":
		case "content-length":
			req.ContentLength = contentLength(r)
		case "x-amz-security-token":
			creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
		default:
			vals := r.Header.Values(n)
			if vals == nil {
				return "", false
			}
			req.Header[http.CanonicalHeaderKey(n)] = vals
		}
	}
	if err := v.signer.SignHTTP(context.Background(), creds, req, payload, sig.Service, sig.Region, at); err != nil {
		return "", false
	}
	h := req.Header.Get("Authorization")
	i := strings.Index(h, "SignedHeaders=")
	j := strings.Index(h, ", Signature=")
	if i < 0 || j < i || h[i+len("SignedHeaders="):j] != strings.Join(sig.SignedHeaders, ";") {
		return "", false
	}
	return h[j+len(", Signature="):], true
}

func contentLength(r *http.Request) int64 {
	if r.ContentLength >= 0 {
		return r.ContentLength
	}
	n, _ := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
	return n
}

// signingKey derives (and caches per secret and scope) the signing key.
func (v *Verifier) signingKey(secret string, sig Signature) []byte {
	ck := secret + "\x00" + sig.Scope()
	if k, ok := v.keys.Load(ck); ok {
		return k.([]byte)
	}
	k := DeriveKey(secret, sig.Date, sig.Region, sig.Service)
	v.keys.Store(ck, k)
	return k
}

// DeriveKey is SigV4's signing key for a secret and a scope.
func DeriveKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	k = hmacSHA256(k, []byte(region))
	k = hmacSHA256(k, []byte(service))
	return hmacSHA256(k, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// StringToSign is SigV4's string to sign.
func StringToSign(at time.Time, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + at.UTC().Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// CanonicalRequest builds SigV4's canonical request of r as received,
// over the headers sig signed and the given payload hash.
func CanonicalRequest(r *http.Request, sig Signature, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.RawQuery, sig.Presigned))
	b.WriteByte('\n')
	for _, n := range sig.SignedHeaders {
		b.WriteString(n)
		b.WriteByte(':')
		switch n {
		case "host", ":authority":
			b.WriteString(r.Host)
		case "content-length":
			if vals := r.Header.Values(n); vals != nil {
				writeValues(&b, vals)
			} else {
				b.WriteString(strconv.FormatInt(contentLength(r), 10))
			}
		case "transfer-encoding":
			writeValues(&b, r.TransferEncoding)
		default:
			writeValues(&b, r.Header.Values(n))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sig.SignedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

func writeValues(b *strings.Builder, vals []string) {
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.Join(strings.Fields(v), " "))
	}
}

// canonicalURI encodes the path's segments a second time, as SigV4 does
// for every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return escape(p, false)
}

// canonicalQuery sorts the query's pairs and encodes them SigV4's way;
// presigned requests leave their own signature out.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type pair struct{ k, v string }
	var pairs []pair
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, _ = url.QueryUnescape(k)
		v, _ = url.QueryUnescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, pair{escape(k, true), escape(v, true)})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// escape percent-encodes all but the unreserved characters (and "/" in
// paths), upper-case hex, as SigV4 wants.
func escape(s string, encodeSlash bool) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}
