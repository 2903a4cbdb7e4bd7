package deliver

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/shardscope/shardscope/consumers"
)

// prefixPart is literal text or a timestamp pattern of a prefix.
type prefixPart struct {
	literal string
	layout  string // Go time layout, from a !{timestamp:…} expression
	random  bool   // !{firehose:random-string}
}

// parsePrefix reads Firehose's prefix grammar: literal text,
// !{timestamp:PATTERN} (Java DateTimeFormatter letters yyyy, MM, dd, HH,
// mm, ss and 'quoted' text) and !{firehose:random-string}. A prefix
// without a timestamp gets "yyyy/MM/dd/HH/" appended, as Firehose does.
func parsePrefix(p string) ([]prefixPart, error) {
	var parts []prefixPart
	hasTime := false
	for p != "" {
		i := strings.Index(p, "!{")
		if i < 0 {
			parts = append(parts, prefixPart{literal: p})
			break
		}
		if i > 0 {
			parts = append(parts, prefixPart{literal: p[:i]})
		}
		end := strings.IndexByte(p[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("an expression is not closed")
		}
		expr := p[i+2 : i+end]
		p = p[i+end+1:]
		switch {
		case strings.HasPrefix(expr, "timestamp:"):
			layout, err := javaLayout(expr[len("timestamp:"):])
			if err != nil {
				return nil, err
			}
			parts = append(parts, prefixPart{layout: layout})
			hasTime = true
		case expr == "firehose:random-string":
			parts = append(parts, prefixPart{random: true})
		default:
			return nil, fmt.Errorf("unknown expression !{%s} (want timestamp:PATTERN or firehose:random-string)", expr)
		}
	}
	if !hasTime {
		parts = append(parts, prefixPart{layout: "2006/01/02/15/"})
	}
	return parts, nil
}

// javaLayout turns the DateTimeFormatter letters prefixes use into a Go
// layout.
func javaLayout(pat string) (string, error) {
	var b strings.Builder
	for pat != "" {
		switch {
		case pat[0] == '\'':
			end := strings.IndexByte(pat[1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("a quote in %q is not closed", pat)
			}
			b.WriteString(pat[1 : 1+end])
			pat = pat[end+2:]
		case strings.HasPrefix(pat, "yyyy"):
			b.WriteString("2006")
			pat = pat[4:]
		case strings.HasPrefix(pat, "MM"):
			b.WriteString("01")
			pat = pat[2:]
		case strings.HasPrefix(pat, "dd"):
			b.WriteString("02")
			pat = pat[2:]
		case strings.HasPrefix(pat, "HH"):
			b.WriteString("15")
			pat = pat[2:]
		case strings.HasPrefix(pat, "mm"):
			b.WriteString("04")
			pat = pat[2:]
		case strings.HasPrefix(pat, "ss"):
			b.WriteString("05")
			pat = pat[2:]
		case pat[0] >= 'a' && pat[0] <= 'z' || pat[0] >= 'A' && pat[0] <= 'Z':
			return "", fmt.Errorf("pattern letter %q is not supported (yyyy MM dd HH mm ss and 'text')", pat[0])
		default:
			b.WriteByte(pat[0])
			pat = pat[1:]
		}
	}
	return b.String(), nil
}

// objectKey is Firehose's key for an object whose oldest record is first:
// <prefix evaluated at its arrival, UTC><name>-1-yyyy-MM-dd-HH-mm-ss-<uuid>.
// The uuid (and any random string) comes from the stream, shard and first
// record, so the same batch gets the same key when it is delivered again.
func objectKey(set Settings, stream, shard string, first consumers.UserRecord) (string, error) {
	parts, err := parsePrefix(set.Prefix)
	if err != nil {
		return "", err
	}
	at := first.ApproximateArrivalTimestamp.UTC()
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", stream, shard, first.SequenceNumber, first.SubSequenceNumber)))
	var b strings.Builder
	for i, p := range parts {
		switch {
		case p.layout != "":
			b.WriteString(at.Format(p.layout))
		case p.random:
			b.WriteString(randomString(seed, i))
		default:
			b.WriteString(p.literal)
		}
	}
	u := seed[:16]
	u[6] = u[6]&0x0f | 0x50 // a name-based (version 5 style) UUID
	u[8] = u[8]&0x3f | 0x80
	fmt.Fprintf(&b, "%s-1-%s-%x-%x-%x-%x-%x", set.Name, at.Format("2006-01-02-15-04-05"), u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	if set.GZIP {
		b.WriteString(".gz")
	}
	return b.String(), nil
}

// randomString is Firehose's 11-character random string, drawn from the
// batch's seed so a repeat delivery names the same object.
func randomString(seed [32]byte, salt int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	h := sha256.Sum256(append(seed[:], byte(salt)))
	out := make([]byte, 11)
	for i := range out {
		out[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(out)
}
