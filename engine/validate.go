package engine

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
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
