package ui

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/shardscope/shardscope/engine"
)

// recordFilter selects feed records by shard ID, partition key or data.
//
// Syntax: plain text matches ignoring ASCII case; "re:expr" or "/expr/" is a
// regular expression; a leading "!" keeps the records that do not match.
type recordFilter struct {
	raw    string
	invert bool
	re     *regexp.Regexp
	needle []byte // lower-cased, for plain text
}

// parseFilter reads a filter; an empty one (after "!") is an error so that
// "!" alone does not hide everything by accident.
func parseFilter(s string) (*recordFilter, error) {
	f := &recordFilter{raw: s}
	body := strings.TrimSpace(s)
	if strings.HasPrefix(body, "!") {
		f.invert = true
		body = body[1:]
	}
	var expr string
	isRE := false
	switch {
	case strings.HasPrefix(body, "re:"):
		expr, isRE = body[3:], true
	case len(body) >= 2 && body[0] == '/' && body[len(body)-1] == '/':
		expr, isRE = body[1:len(body)-1], true
	}
	if isRE {
		if expr == "" {
			return nil, fmt.Errorf("empty regular expression")
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("bad regex: %s", regexpReason(err))
		}
		f.re = re
		return f, nil
	}
	if body == "" {
		return nil, fmt.Errorf("empty filter")
	}
	f.needle = bytes.ToLower([]byte(body))
	return f, nil
}

// regexpReason keeps the useful part of a regexp error ("missing closing )").
func regexpReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// match reports whether the record passes the filter.
func (f *recordFilter) match(r *engine.TapRecord) bool {
	return f.hit(r) != f.invert
}

func (f *recordFilter) hit(r *engine.TapRecord) bool {
	if f.re != nil {
		return f.re.MatchString(r.ShardID) || f.re.MatchString(r.PartitionKey) || f.re.Match(r.Data)
	}
	return containsFold([]byte(r.ShardID), f.needle) ||
		containsFold([]byte(r.PartitionKey), f.needle) ||
		containsFold(r.Data, f.needle)
}

// containsFold reports whether lower-case needle occurs in s, ignoring
// ASCII case, without allocating.
func containsFold(s, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	first := needle[0]
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
