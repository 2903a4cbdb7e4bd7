package engine

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// validator gathers model-constraint failures and reports them the way the
// service does: "2 validation errors detected: Value 'x' at 'streamName'
// failed to satisfy constraint: …; Value …", all in one message, ordered by
// member in the service's order for the action.
type validator struct {
	problems []FieldProblem
	order    []string       // the action's members, in the service's order
	wire     []FieldProblem // found by the wire layer (WithFieldProblems)
}

// FieldProblem is one failed model constraint: the member's path as the
// service writes it ("streamName", "records.2.member.data") and the whole
// text ("Value ” at 'streamName' failed to satisfy constraint: …").
type FieldProblem struct {
	Member, Text string
}

type fieldProblemsKey struct{}

// WithFieldProblems returns a context that carries constraint failures a
// caller found while reading a request (an empty string sent for a member,
// a required member missing: things the engine's zero values cannot show).
// An action that validates its input reports them with its own in one
// ValidationException, in the service's order, before doing anything.
func WithFieldProblems(ctx context.Context, problems []FieldProblem) context.Context {
	if len(problems) == 0 {
		return ctx
	}
	return context.WithValue(ctx, fieldProblemsKey{}, problems)
}

// newValidator starts validating an action's input; order lists its
// members in the order the service reports them.
func newValidator(ctx context.Context, order ...string) validator {
	v := validator{order: order}
	if ctx != nil {
		v.wire, _ = ctx.Value(fieldProblemsKey{}).([]FieldProblem)
	}
	return v
}

func (v *validator) add(value any, member, constraint string) {
	var shown string
	switch x := value.(type) {
	case nil:
		shown = "null"
	case string:
		shown = "'" + x + "'"
	default:
		shown = fmt.Sprintf("'%v'", x)
	}
	v.problems = append(v.problems, FieldProblem{Member: member, Text: fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", shown, member, constraint)})
}

// rank is where a member's problems go in the message: by its top-level
// member's place in the action's order; unknown members go last.
func (v *validator) rank(member string) int {
	top, _, _ := strings.Cut(member, ".")
	for i, m := range v.order {
		if m == top {
			return i
		}
	}
	return len(v.order)
}

func (v *validator) required(ok bool, member string) bool {
	if !ok {
		v.add(nil, member, "Member must not be null")
	}
	return ok
}

// length checks a string's length in characters, counted as the service's
// Java front end counts them: in UTF-16 code units, so a character outside
// the Basic Multilingual Plane (an emoji) counts twice.
func (v *validator) length(s, member string, min, max int) {
	n := utf16Len(s)
	if n < min {
		v.add(s, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if n > max {
		v.add(s, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // range yields RuneError (1) for a bad byte, never a surrogate
	}
	return n
}

// unicode refuses a string that is not valid Unicode: invalid UTF-8, or a
// lone surrogate (which Go strings can only carry as invalid UTF-8). The
// service's strings are Java strings; such a string cannot be stored or
// hashed the way a client in another language would hash it.
func (v *validator) unicode(s, member string) bool {
	if utf8.ValidString(s) {
		return true
	}
	v.add(strings.ToValidUTF8(s, "\uFFFD"), member, "Member must be a valid Unicode string (no invalid UTF-8, no unpaired surrogates)")
	return false
}

func (v *validator) pattern(s, member string, re *regexp.Regexp, shown string) {
	if s != "" && !re.MatchString(s) {
		v.add(s, member, "Member must satisfy regular expression pattern: "+shown)
	}
}

func (v *validator) intRange(n int, member string, min, max int) {
	if n < min {
		v.add(n, member, fmt.Sprintf("Member must have value greater than or equal to %d", min))
	}
	if n > max {
		v.add(n, member, fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
}

func (v *validator) err() error {
	all := v.wire
	if len(v.wire) > 0 {
		// The wire layer saw what was sent; for a member it reports, the
		// engine's view of the zero value it got is beside the point.
		covered := func(member string) bool {
			for _, w := range v.wire {
				if member == w.Member || strings.HasPrefix(member, w.Member+".") {
					return true
				}
			}
			return false
		}
		all = append([]FieldProblem(nil), v.wire...)
		for _, p := range v.problems {
			if !covered(p.Member) {
				all = append(all, p)
			}
		}
	} else {
		all = v.problems
	}
	sort.SliceStable(all, func(i, j int) bool { return v.rank(all[i].Member) < v.rank(all[j].Member) })
	texts := make([]string, len(all))
	for i, p := range all {
		texts[i] = p.Text
	}
	switch len(texts) {
	case 0:
		return nil
	case 1:
		return &Error{Code: ValidationException, Message: "1 validation error detected: " + texts[0]}
	}
	return &Error{Code: ValidationException, Message: fmt.Sprintf("%d validation errors detected: %s", len(texts), strings.Join(texts, "; "))}
}

// ref checks a StreamRef's members.
func (v *validator) ref(ref StreamRef) {
	v.streamName(ref.StreamName, "streamName")
	v.streamARN(ref.StreamARN)
}

var (
	namePattern    = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	shardIDPattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	arnPattern     = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:stream/\S+$`)
)

const namePatternText = "[a-zA-Z0-9_.-]+"

func (v *validator) streamName(name, member string) {
	if name == "" {
		return
	}
	v.pattern(name, member, namePattern, namePatternText)
	v.length(name, member, 1, 128)
}

func (v *validator) streamARN(arn string) {
	if arn == "" {
		return
	}
	v.pattern(arn, "streamARN", arnPattern, `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)
	v.length(arn, "streamARN", 1, 2048)
}

func (v *validator) shardID(id, member string, required bool) {
	if id == "" {
		if required {
			v.required(false, member)
		}
		return
	}
	v.pattern(id, member, shardIDPattern, namePatternText)
	v.length(id, member, 1, 128)
}

// tagMap checks a map of tags against the model: 1 to 50 entries, keys of
// 1 to 128 characters, values of at most 256. The value is shown as the
// service shows maps: {k1=v1, k2=v2}.
func (v *validator) tagMap(tags map[string]string, member string) {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	shown := func() string {
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + tags[k]
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	if len(tags) > 50 {
		v.add(shown(), member, "Member must have length less than or equal to 50")
	}
	for _, k := range keys {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			v.add(shown(), member, "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]")
			break
		}
	}
	for _, k := range keys {
		if utf8.RuneCountInString(tags[k]) > 256 {
			v.add(shown(), member, "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]")
			break
		}
	}
}
