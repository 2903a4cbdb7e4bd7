package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON decoders turn invalid UTF-8 and unpaired surrogate escapes into
// U+FFFD, so a partition key the service refuses would be stored as a
// different key. A body that holds either is rare; it is decoded by the
// small parser below, which keeps such strings as sent (a lone surrogate as
// its three-byte WTF-8 form, which Go's UTF-8 check refuses) for the engine
// to refuse with ValidationException.

// needsExactStrings reports whether a JSON body holds invalid UTF-8 or a
// surrogate escape. A surrogate pair makes it true as well; the exact parser
// decodes pairs like any other.
func needsExactStrings(body []byte) bool {
	if !utf8.Valid(body) {
		return true
	}
	for rest := body; ; {
		i := bytes.Index(rest, []byte(`\u`))
		if i < 0 || i+3 > len(rest) {
			return false
		}
		if h := rest[i+2] | 0x20; h == 'd' && i+3 < len(rest) {
			if c := rest[i+3] | 0x20; c >= '8' && c <= '9' || c >= 'a' && c <= 'f' {
				return true
			}
		}
		rest = rest[i+2:]
	}
}

// decodeJSONExact parses a JSON object like decodeJSON, keeping strings
// byte for byte. A body it cannot parse goes to decodeJSON for the usual
// SerializationException.
func decodeJSONExact(body []byte) (map[string]any, *apiError) {
	p := exactParser{b: body}
	p.space()
	v, ok := p.value(0)
	p.space()
	m, isObj := v.(map[string]any)
	if !ok || !isObj || p.i != len(p.b) {
		return decodeJSON(body)
	}
	return m, nil
}

type exactParser struct {
	b []byte
	i int
}

// maxExactDepth bounds nesting; no request nests more than a few levels.
const maxExactDepth = 64

func (p *exactParser) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *exactParser) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

func (p *exactParser) value(depth int) (any, bool) {
	if p.i >= len(p.b) || depth > maxExactDepth {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := map[string]any{}
		p.space()
		if p.lit("}") {
			return m, true
		}
		for {
			p.space()
			k, ok := p.str()
			if !ok {
				return nil, false
			}
			p.space()
			if !p.lit(":") {
				return nil, false
			}
			p.space()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			m[k] = v
			p.space()
			if p.lit("}") {
				return m, true
			}
			if !p.lit(",") {
				return nil, false
			}
		}
	case c == '[':
		p.i++
		l := []any{}
		p.space()
		if p.lit("]") {
			return l, true
		}
		for {
			p.space()
			v, ok := p.value(depth + 1)
			if !ok {
				return nil, false
			}
			l = append(l, v)
			p.space()
			if p.lit("]") {
				return l, true
			}
			if !p.lit(",") {
				return nil, false
			}
		}
	case c == '"':
		return p.str()
	case p.lit("true"):
		return true, true
	case p.lit("false"):
		return false, true
	case p.lit("null"):
		return nil, true
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		for p.i < len(p.b) && bytes.IndexByte([]byte("+-.eE0123456789"), p.b[p.i]) >= 0 {
			p.i++
		}
		n := json.Number(p.b[start:p.i])
		// The generic reader takes json.Number apart itself; check the grammar.
		if !json.Valid(p.b[start:p.i]) {
			return nil, false
		}
		return n, true
	}
	return nil, false
}

// str reads a JSON string, keeping invalid UTF-8 and unpaired surrogates.
func (p *exactParser) str() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	var out []byte
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), true
		case c < 0x20:
			return "", false
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", false
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", false
			}
			if utf16.IsSurrogate(r) && r < 0xdc00 && bytes.HasPrefix(p.b[p.i:], []byte(`\u`)) {
				save := p.i
				p.i += 2
				if lo, ok := p.hex4(); ok && lo >= 0xdc00 && lo <= 0xdfff {
					out = utf8.AppendRune(out, utf16.DecodeRune(r, lo))
					continue
				}
				p.i = save
			}
			if utf16.IsSurrogate(r) {
				// WTF-8: the surrogate's code point in three bytes.
				out = append(out, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
				continue
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *exactParser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}
