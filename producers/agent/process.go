package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Processor is one of the agent's dataProcessingOptions. Process returns
// the new record, or ok false when the record is skipped (a line that does
// not match its log format).
type Processor interface {
	Process(rec []byte) (out []byte, ok bool)
}

func parseProcessor(raw map[string]json.RawMessage) (Processor, error) {
	var name string
	if err := json.Unmarshal(raw["optionName"], &name); err != nil || name == "" {
		return nil, fmt.Errorf("optionName is required")
	}
	known := map[string]bool{"optionName": true}
	get := func(k string, dst any) error {
		known[k] = true
		v, ok := raw[k]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	}
	var p Processor
	switch name {
	case "SINGLELINE":
		var s singleLine
		var opts []string
		if err := get("parseOptions", &opts); err != nil {
			return nil, err
		}
		for _, o := range opts {
			switch o {
			case "NO_TRIM":
				s.noTrim = true
			case "ESCAPE_NEW_LINE":
				s.escape = true
			default:
				return nil, fmt.Errorf("parseOptions: %q: want NO_TRIM or ESCAPE_NEW_LINE", o)
			}
		}
		p = s
	case "CSVTOJSON":
		c := csvToJSON{delimiter: ","}
		if err := get("customFieldNames", &c.fields); err != nil {
			return nil, err
		}
		if len(c.fields) == 0 {
			return nil, fmt.Errorf("CSVTOJSON needs customFieldNames")
		}
		if err := get("delimiter", &c.delimiter); err != nil {
			return nil, err
		}
		if c.delimiter == "" {
			return nil, fmt.Errorf("delimiter is empty")
		}
		p = c
	case "LOGTOJSON":
		l, err := parseLogToJSON(get)
		if err != nil {
			return nil, err
		}
		p = l
	case "ADDBRACKETS":
		p = addBrackets{}
	case "ADDMETADATA":
		var a addMetadata
		var meta json.RawMessage
		if err := get("metadata", &meta); err != nil {
			return nil, err
		}
		if len(meta) == 0 {
			meta = json.RawMessage("{}")
		}
		a.metadata = meta
		var ts string
		if err := get("timestamp", &ts); err != nil {
			return nil, err
		}
		a.timestamp = ts == "true"
		a.now = time.Now
		p = a
	case "ADDEC2METADATA":
		return nil, fmt.Errorf("ADDEC2METADATA reads the EC2 instance metadata service, which a laptop does not have")
	case "USINGPLUGGIN":
		return nil, fmt.Errorf("USINGPLUGGIN loads a Java class; this agent cannot")
	default:
		return nil, fmt.Errorf("optionName %q: want SINGLELINE, CSVTOJSON, LOGTOJSON, ADDBRACKETS or ADDMETADATA", name)
	}
	for k := range raw {
		if !known[k] {
			return nil, fmt.Errorf("%s: unknown key %q", name, k)
		}
	}
	return p, nil
}

// singleLine joins a multi-line record into one line.
type singleLine struct{ noTrim, escape bool }

func (s singleLine) Process(rec []byte) ([]byte, bool) {
	lines := strings.Split(strings.TrimRight(string(rec), "\n"), "\n")
	if !s.noTrim {
		for i, l := range lines {
			lines[i] = strings.TrimSpace(l)
		}
	}
	sep := ""
	if s.escape {
		sep = `\n`
	}
	return []byte(strings.Join(lines, sep) + "\n"), true
}

// csvToJSON maps delimited values to named fields.
type csvToJSON struct {
	fields    []string
	delimiter string
}

func (c csvToJSON) Process(rec []byte) ([]byte, bool) {
	values := strings.Split(strings.TrimRight(string(rec), "\r\n"), c.delimiter)
	obj := make([]field, 0, len(c.fields))
	for i, name := range c.fields {
		if i < len(values) {
			v := values[i]
			obj = append(obj, field{name, &v})
		}
	}
	return appendObject(nil, obj, false), true
}

type field struct {
	name  string
	value *string // nil is null
}

// appendObject writes fields as a JSON object in their order, then a newline.
func appendObject(b []byte, fields []field, pretty bool) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(f.name)
		buf.Write(k)
		buf.WriteByte(':')
		if f.value == nil {
			buf.WriteString("null")
		} else {
			v, _ := json.Marshal(*f.value)
			buf.Write(v)
		}
	}
	buf.WriteByte('}')
	out := buf.Bytes()
	if pretty {
		var ind bytes.Buffer
		if json.Indent(&ind, out, "", "  ") == nil {
			out = ind.Bytes()
		}
	}
	b = append(b, out...)
	return append(b, '\n')
}

// logToJSON parses a line of a known log format into a JSON object.
type logToJSON struct {
	re     *regexp.Regexp
	fields []string
	pretty bool
}

// The log formats of the Amazon Kinesis Agent and their fields.
var logFormats = map[string]struct {
	pattern string
	fields  []string
}{
	"COMMONAPACHELOG": {
		`^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\S+) (\S+)`,
		[]string{"host", "ident", "authuser", "datetime", "request", "response", "bytes"},
	},
	"COMBINEDAPACHELOG": {
		`^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\S+) (\S+) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"`,
		[]string{"host", "ident", "authuser", "datetime", "request", "response", "bytes", "referrer", "agent"},
	},
	"APACHEERRORLOG": {
		`^\[([^\]]+)\] \[(?:([^:\]]+):)?([^\]]+)\](?: \[pid (\d+)(?::tid (\d+))?\])?(?: \[client ([^\]]+)\])? (.*)$`,
		[]string{"timestamp", "module", "severity", "processid", "threadid", "client", "message"},
	},
	"SYSLOG": {
		`^([A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$`,
		[]string{"timestamp", "hostname", "program", "processid", "message"},
	},
	"RFC3339SYSLOG": {
		`^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})) (\S+) ([^\s\[:]+)(?:\[(\d+)\])?: (.*)$`,
		[]string{"timestamp", "hostname", "program", "processid", "message"},
	},
}

func parseLogToJSON(get func(string, any) error) (logToJSON, error) {
	var format, match, jsonFormat string
	var names []string
	for k, dst := range map[string]any{"logFormat": &format, "matchPattern": &match, "customFieldNames": &names, "jsonFormat": &jsonFormat} {
		if err := get(k, dst); err != nil {
			return logToJSON{}, err
		}
	}
	lf, ok := logFormats[format]
	if !ok {
		return logToJSON{}, fmt.Errorf("logFormat %q: want COMMONAPACHELOG, COMBINEDAPACHELOG, APACHEERRORLOG, SYSLOG or RFC3339SYSLOG", format)
	}
	l := logToJSON{fields: lf.fields}
	pattern := lf.pattern
	if match != "" {
		if len(names) == 0 {
			return l, fmt.Errorf("matchPattern needs customFieldNames")
		}
		pattern = match
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return l, fmt.Errorf("matchPattern: %w", err)
	}
	l.re = re
	if len(names) > 0 {
		l.fields = names
	}
	if n := re.NumSubexp(); n < len(l.fields) {
		return l, fmt.Errorf("the pattern has %d groups for %d field names", n, len(l.fields))
	}
	switch jsonFormat {
	case "", "COMPACT":
	case "PRETTYPRINT":
		l.pretty = true
	default:
		return l, fmt.Errorf("jsonFormat %q: want COMPACT or PRETTYPRINT", jsonFormat)
	}
	return l, nil
}

func (l logToJSON) Process(rec []byte) ([]byte, bool) {
	m := l.re.FindStringSubmatchIndex(strings.TrimRight(string(rec), "\r\n"))
	if m == nil {
		return nil, false
	}
	line := string(rec)
	obj := make([]field, 0, len(l.fields))
	for i, name := range l.fields {
		lo, hi := m[2*(i+1)], m[2*(i+1)+1]
		if lo < 0 || line[lo:hi] == "-" {
			obj = append(obj, field{name, nil})
			continue
		}
		v := line[lo:hi]
		obj = append(obj, field{name, &v})
	}
	return appendObject(nil, obj, l.pretty), true
}

// addBrackets wraps the record in braces.
type addBrackets struct{}

func (addBrackets) Process(rec []byte) ([]byte, bool) {
	return append(append([]byte{'{'}, bytes.TrimRight(rec, "\n")...), '}', '\n'), true
}

// addMetadata wraps the record with the configured metadata.
type addMetadata struct {
	metadata  json.RawMessage
	timestamp bool
	now       func() time.Time
}

func (a addMetadata) Process(rec []byte) ([]byte, bool) {
	var buf bytes.Buffer
	buf.WriteString(`{"metadata":`)
	buf.Write(a.metadata)
	data, _ := json.Marshal(strings.TrimRight(string(rec), "\n"))
	buf.WriteString(`,"data":`)
	buf.Write(data)
	if a.timestamp {
		ts, _ := json.Marshal(a.now().UTC().Format("2006-01-02T15:04:05.000Z"))
		buf.WriteString(`,"ts":`)
		buf.Write(ts)
	}
	buf.WriteString("}\n")
	return buf.Bytes(), true
}
