package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fxamacker/cbor/v2"
	"github.com/shardscope/shardscope/engine"
)

// Request bodies are decoded into a generic tree first (map[string]any of
// strings, numbers, blobs, timestamps, lists and maps) and then read member
// by member with the type each action expects. One tree for both encodings
// means one set of type checks and one set of SerializationException texts.

// cborTime is a CBOR tag-1 timestamp, already converted.
type cborTime time.Time

var cborDec = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DefaultMapType:        reflect.TypeOf(map[string]any(nil)),
		DefaultByteStringType: reflect.TypeOf([]byte(nil)),
		// Java's generator writes definite and indefinite lengths; both are fine.
		IndefLength: cbor.IndefLengthAllowed,
		// Keep invalid UTF-8 text as sent, so the engine refuses a bad
		// partition key by name instead of the whole body failing to decode.
		UTF8: cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// errEmptyBody is the service's answer to a call without a body; actions
// without input take {}.
var errEmptyBody = serializationError("The request body is empty; an action without input takes {}.")

// decodeJSON parses a JSON request body into its top-level object.
func decodeJSON(body []byte) (map[string]any, *apiError) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errEmptyBody
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, serializationError("The request body is not valid JSON (error at byte %d).", syn.Offset)
		}
		return nil, serializationError("The request body is not valid JSON (it ends early).")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, serializationError("The request body holds more than one JSON value.")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, serializationError("The request body must be a JSON object.")
	}
	return m, nil
}

// decodeCBOR parses a CBOR request body into its top-level map.
func decodeCBOR(body []byte) (map[string]any, *apiError) {
	if len(body) == 0 {
		return nil, errEmptyBody
	}
	// Wellformed bounds nesting and lengths before the recursive walk below.
	if err := cborDec.Wellformed(body); err != nil {
		return nil, serializationError("The request body is not valid CBOR: %v", err)
	}
	v, err := cborValue(body)
	if err != nil {
		return nil, serializationError("The request body is not valid CBOR: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, serializationError("The request body must be a CBOR map.")
	}
	return m, nil
}

// cborValue converts one well-formed CBOR item. It walks maps, arrays and
// tags itself because tag 1 must be read the AWS way: the Java SDK writes
// tag 1 with an integer of epoch milliseconds, not seconds as RFC 8949 says.
func cborValue(raw []byte) (any, error) {
	switch raw[0] >> 5 {
	case 5: // map
		var m map[string]cbor.RawMessage
		if err := cborDec.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, item := range m {
			v, err := cborValue(item)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case 4: // array
		var l []cbor.RawMessage
		if err := cborDec.Unmarshal(raw, &l); err != nil {
			return nil, err
		}
		out := make([]any, len(l))
		for i, item := range l {
			v, err := cborValue(item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case 6: // tag
		var tag cbor.RawTag
		if err := cborDec.Unmarshal(raw, &tag); err != nil {
			return nil, err
		}
		content, err := cborValue(tag.Content)
		if err != nil {
			return nil, err
		}
		if tag.Number != 1 {
			return content, nil // e.g. the self-describe tag 55799: keep the content
		}
		switch n := content.(type) {
		case uint64:
			if n > math.MaxInt64 {
				return nil, errors.New("timestamp out of range")
			}
			return cborTime(time.UnixMilli(int64(n)).UTC()), nil
		case int64:
			return cborTime(time.UnixMilli(n).UTC()), nil
		case float64:
			t, ok := secondsToTime(n)
			if !ok {
				return nil, errors.New("timestamp out of range")
			}
			return cborTime(t), nil
		}
		return nil, fmt.Errorf("tag 1 holds %T, not a number", content)
	}
	var v any
	if err := cborDec.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// secondsToTime converts epoch seconds with a fraction, rounded to the
// millisecond the engine keeps.
func secondsToTime(s float64) (time.Time, bool) {
	if math.IsNaN(s) || math.IsInf(s, 0) || math.Abs(s) > 1e13 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(math.Round(s * 1000))).UTC(), true
}

// reader gathers what goes wrong while members are read: the first type
// error (SerializationException) and any constraint the engine cannot see
// (ValidationException).
type reader struct {
	serr     *apiError
	problems []engine.FieldProblem
}

// object is one structure of a request with the member path used in
// validation messages ("records.1.member.").
type object struct {
	r      *reader
	m      map[string]any
	prefix string
}

func newObject(m map[string]any) object { return object{r: &reader{}, m: m} }

// err returns the first problem found while reading: a type error first,
// then the validation problems in the service's format.
func (r *reader) err() *apiError {
	if r.serr != nil {
		return r.serr
	}
	texts := make([]string, len(r.problems))
	for i, p := range r.problems {
		texts[i] = p.Text
	}
	switch len(texts) {
	case 0:
		return nil
	case 1:
		return &apiError{Code: "ValidationException", Message: "1 validation error detected: " + texts[0]}
	}
	return &apiError{Code: "ValidationException", Message: fmt.Sprintf("%d validation errors detected: %s", len(texts), strings.Join(texts, "; "))}
}

func (o object) typeError(format string, args ...any) {
	if o.r.serr == nil {
		o.r.serr = serializationError(format, args...)
	}
}

// member returns a member's wire path for validation messages: lower first letter.
func (o object) member(name string) string {
	r := []rune(name)
	r[0] = unicode.ToLower(r[0])
	return o.prefix + string(r)
}

func (o object) problem(value, name, constraint string) {
	m := o.member(name)
	o.r.problems = append(o.r.problems, engine.FieldProblem{Member: m, Text: fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", value, m, constraint)})
}

// require records a required member that is absent: the engine sees only
// the zero value and cannot tell.
func (o object) require(name string, present bool) {
	if !present {
		o.problem("null", name, "Member must not be null")
	}
}

// raw returns a member's value; JSON null counts as absent, as the service
// treats it.
func (o object) raw(name string) (any, bool) {
	v, ok := o.m[name]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

// kindMismatch reports a value of the wrong kind with the text the service
// gives (Jackson's, as kinesalite recorded them).
func (o object) kindMismatch(v any, want string) {
	switch x := v.(type) {
	case []any:
		o.typeError("Start of list found where not expected")
	case map[string]any:
		o.typeError("Start of structure or map found where not expected.")
	case bool:
		o.typeError("class java.lang.Boolean can not be converted to %s", want)
	case string:
		if want == "an Boolean" {
			o.typeError("'%s' can not be converted to an Boolean", strings.ToUpper(x))
			return
		}
		o.typeError("class java.lang.String can not be converted to %s", want)
	case []byte:
		o.typeError("class java.nio.HeapByteBuffer can not be converted to %s", want)
	case cborTime:
		o.typeError("class java.util.Date can not be converted to %s", want)
	default: // numbers
		o.typeError("class java.math.BigDecimal can not be converted to %s", want)
	}
}

// str reads a string member.
func (o object) str(name string) (string, bool) {
	v, ok := o.raw(name)
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		o.kindMismatch(v, "an String")
		return "", false
	}
	return s, true
}

// nonEmpty reads a string member whose model minimum length is 1. An empty
// string that was sent is reported here, because the engine takes "" for
// an absent member.
func (o object) nonEmpty(name string) string {
	s, ok := o.str(name)
	if ok && s == "" {
		o.problem("''", name, "Member must have length greater than or equal to 1")
	}
	return s
}

// named reads a string member with a pattern and a minimum length of 1
// (names, ids, ARNs): an empty string sent fails both, pattern first, as
// the service reports it.
func (o object) named(name, pattern string) string {
	s, ok := o.str(name)
	if ok && s == "" {
		o.problem("''", name, "Member must satisfy regular expression pattern: "+pattern)
		o.problem("''", name, "Member must have length greater than or equal to 1")
	}
	return s
}

// patterned reads a string member constrained by a pattern the empty string
// does not match (sequence numbers, hash keys).
func (o object) patterned(name, pattern string) string {
	s, ok := o.str(name)
	if ok && s == "" {
		o.problem("''", name, "Member must satisfy regular expression pattern: "+pattern)
	}
	return s
}

// integer reads a 32-bit integer member; fractions are dropped as the
// service's parser does.
func (o object) integer(name string) (int, bool) {
	v, ok := o.raw(name)
	if !ok {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return o.int32(n)
		}
		p, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			o.typeError("Numeric value (%s) out of range of int (-2147483648 - 2147483647)", x)
			return 0, false
		}
		f = p // ±Inf when out of float range: clamped below
	case uint64:
		return int(min(x, math.MaxInt32)), true
	case int64:
		return o.int32(x)
	case float64:
		f = x
	default:
		o.kindMismatch(v, "an Integer")
		return 0, false
	}
	if math.IsNaN(f) {
		o.typeError("Numeric value (%v) out of range of int (-2147483648 - 2147483647)", f)
		return 0, false
	}
	return int(math.Max(math.MinInt32, math.Min(math.MaxInt32, math.Floor(f)))), true
}

// int32 clamps a number into the 32-bit range, as the service does before
// its range checks: ShardCount 3000000000 is reported as '2147483647'.
func (o object) int32(n int64) (int, bool) {
	return int(max(math.MinInt32, min(n, math.MaxInt32))), true
}

// limit reads an optional integer member whose model minimum is 1 and for
// which the engine takes 0 to mean "not given": a 0 that was sent is
// reported here.
func (o object) limit(name string) int {
	n, ok := o.integer(name)
	if ok && n == 0 {
		o.problem("'0'", name, "Member must have value greater than or equal to 1")
	}
	return n
}

// boolean reads a boolean member.
func (o object) boolean(name string) bool {
	v, ok := o.raw(name)
	if !ok {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	o.kindMismatch(v, "an Boolean")
	return false
}

// blob reads a blob member: base64 text in JSON, a byte string in CBOR.
func (o object) blob(name string) ([]byte, bool) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false
	}
	switch x := v.(type) {
	case []byte:
		return x, true
	case string:
		if len(x)%4 != 0 {
			o.typeError("'%s' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: %d", clip(x), len(x))
			return nil, false
		}
		if i := strings.IndexFunc(x, func(r rune) bool { return !isBase64Char(r) }); i >= 0 {
			o.typeError("'%s' can not be converted to a Blob: Invalid Base64 character: '%c'", clip(x), []rune(x[i:])[0])
			return nil, false
		}
		b, err := base64.StdEncoding.Strict().DecodeString(x)
		if err != nil {
			o.typeError("'%s' can not be converted to a Blob: Invalid last non-pad Base64 character dectected", clip(x))
			return nil, false
		}
		return b, true
	}
	o.kindMismatch(v, "a Blob")
	return nil, false
}

func isBase64Char(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '='
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// timestamp reads a timestamp member: epoch seconds (JSON number), a CBOR
// tag-1 value, or leniently an ISO-8601 string.
func (o object) timestamp(name string) (time.Time, bool) {
	v, ok := o.raw(name)
	if !ok {
		return time.Time{}, false
	}
	switch x := v.(type) {
	case cborTime:
		return time.Time(x), true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if t, ok := secondsToTime(f); err == nil && ok {
			return t, true
		}
		o.typeError("Numeric value (%s) out of range of a timestamp", x)
		return time.Time{}, false
	case float64:
		if t, ok := secondsToTime(x); ok {
			return t, true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return untaggedEpoch(int64(x)), true
		}
	case int64:
		return untaggedEpoch(x), true
	case string:
		if t, ok := parseTimeString(x); ok {
			return t, true
		}
		o.typeError("Unable to parse date string '%s': expected epoch seconds or ISO-8601.", clip(x))
		return time.Time{}, false
	default:
		o.kindMismatch(v, "a Timestamp")
		return time.Time{}, false
	}
	o.typeError("Numeric value (%v) out of range of a timestamp", v)
	return time.Time{}, false
}

// untaggedEpoch reads an untagged CBOR integer timestamp. The Java SDK
// always tags its milliseconds; an untagged value is seconds unless it is
// too large to be (past the year 5000), then milliseconds.
func untaggedEpoch(n int64) time.Time {
	if n > 1e11 || n < -1e11 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"}

func parseTimeString(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return secondsToTime(f)
	}
	return time.Time{}, false
}

// obj reads a structure member.
func (o object) obj(name string) (object, bool) {
	v, ok := o.raw(name)
	if !ok {
		return object{}, false
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		if _, isList := v.([]any); isList {
			o.typeError("Start of list found where not expected")
		} else {
			o.typeError("Expected null")
		}
		return object{}, false
	}
	return object{r: o.r, m: m, prefix: o.member(name) + "."}, true
}

// list reads a list member.
func (o object) list(name string) ([]any, bool) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false
	}
	l, isList := v.([]any)
	if !isList {
		if _, isMap := v.(map[string]any); isMap {
			o.typeError("Start of structure or map found where not expected.")
		} else {
			o.typeError("Expected list or null")
		}
		return nil, false
	}
	return l, true
}

// element returns the i-th element of a list member as a structure.
func (o object) element(name string, i int, v any) object {
	m, ok := v.(map[string]any)
	if !ok {
		if v != nil {
			if _, isList := v.([]any); isList {
				o.typeError("Start of list found where not expected")
			} else {
				o.typeError("Expected null")
			}
		}
		m = map[string]any{}
	}
	return object{r: o.r, m: m, prefix: fmt.Sprintf("%s.%d.member.", o.member(name), i+1)}
}

// strings reads a list-of-strings member. The result is non-nil when the
// member was present, so the engine can tell [] from absent.
func (o object) strings(name string) []string {
	l, ok := o.list(name)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, isStr := v.(string)
		if !isStr {
			if v == nil {
				s = "" // the service keeps a null element; the engine then reports its length
			} else {
				o.kindMismatch(v, "an String")
				return nil
			}
		}
		out = append(out, s)
	}
	return out
}

// stringMap reads a map-of-strings member.
func (o object) stringMap(name string) map[string]string {
	v, ok := o.raw(name)
	if !ok {
		return nil
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		if _, isList := v.([]any); isList {
			o.typeError("Start of list found where not expected")
		} else {
			o.typeError("Expected map or null")
		}
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, isStr := v.(string)
		if !isStr && v != nil {
			o.kindMismatch(v, "an String")
			return nil
		}
		out[k] = s
	}
	return out
}
