package engine

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// validator gathers model-constraint failures and reports them the way the
// service does: "2 validation errors detected: Value 'x' at 'streamName'
// failed to satisfy constraint: …; Value …".
type validator struct{ problems []string }

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
	v.problems = append(v.problems, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", shown, member, constraint))
}

func (v *validator) required(ok bool, member string) bool {
	if !ok {
		v.add(nil, member, "Member must not be null")
	}
	return ok
}

// length checks a string's length in characters.
func (v *validator) length(s, member string, min, max int) {
	n := utf8.RuneCountInString(s)
	if n < min {
		v.add(s, member, fmt.Sprintf("Member must have length greater than or equal to %d", min))
	}
	if n > max {
		v.add(s, member, fmt.Sprintf("Member must have length less than or equal to %d", max))
	}
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
	switch len(v.problems) {
	case 0:
		return nil
	case 1:
		return &Error{Code: ValidationException, Message: "1 validation error detected: " + v.problems[0]}
	}
	return &Error{Code: ValidationException, Message: fmt.Sprintf("%d validation errors detected: %s", len(v.problems), strings.Join(v.problems, "; "))}
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
	v.length(name, member, 1, 128)
	v.pattern(name, member, namePattern, namePatternText)
}

func (v *validator) streamARN(arn string) {
	if arn == "" {
		return
	}
	v.length(arn, "streamARN", 1, 2048)
	v.pattern(arn, "streamARN", arnPattern, `arn:aws.*:kinesis:.*:\d{12}:stream/\S+`)
}

func (v *validator) shardID(id, member string, required bool) {
	if id == "" {
		if required {
			v.required(false, member)
		}
		return
	}
	v.length(id, member, 1, 128)
	v.pattern(id, member, shardIDPattern, namePatternText)
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
