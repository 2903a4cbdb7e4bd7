package trigger

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shardscope/shardscope/consumers"
	"github.com/shardscope/shardscope/engine"
)

// The starting positions of a mapping.
const (
	Latest      = "LATEST"
	TrimHorizon = "TRIM_HORIZON"
	AtTimestamp = "AT_TIMESTAMP"
)

// ReportBatchItemFailures is the one FunctionResponseTypes value: the
// function may reply {"batchItemFailures":[{"itemIdentifier":"<seq>"}]}.
const ReportBatchItemFailures = "ReportBatchItemFailures"

// Settings are one event source mapping: the names of the Lambda API
// (CreateEventSourceMapping) with the service's defaults and ranges, plus
// what a local mapping needs to name its function and stream. Start from
// DefaultSettings: the zero value is not valid (BatchSize 0).
type Settings struct {
	// Name names the mapping: its lease and checkpoint namespace (the
	// consumer application's name). Default "trigger-" + FunctionName.
	Name string `json:"Name,omitempty" yaml:"Name,omitempty"`
	// Stream is the stream read, a name or an ARN.
	Stream string `json:"Stream" yaml:"Stream"`
	// FunctionName appears in the function's ARN (on-failure records,
	// the runner's context). Default "function".
	FunctionName string `json:"FunctionName,omitempty" yaml:"FunctionName,omitempty"`
	// Exec or URL is the function (used by LoadConfig's Invoker): a
	// command line run with sh -c, or an HTTP endpoint.
	Exec string `json:"Exec,omitempty" yaml:"Exec,omitempty"`
	URL  string `json:"URL,omitempty" yaml:"URL,omitempty"`

	// BatchSize is the most records per invocation: 1–10,000, default 100.
	BatchSize int `json:"BatchSize" yaml:"BatchSize"`
	// MaximumBatchingWindowInSeconds is how long records are gathered
	// before an invocation with fewer than BatchSize: 0–300, default 0
	// (invoke as soon as there are records).
	MaximumBatchingWindowInSeconds int `json:"MaximumBatchingWindowInSeconds" yaml:"MaximumBatchingWindowInSeconds"`
	// StartingPosition is LATEST (the default), TRIM_HORIZON or
	// AT_TIMESTAMP with StartingPositionTimestamp (Unix seconds).
	StartingPosition          string  `json:"StartingPosition" yaml:"StartingPosition"`
	StartingPositionTimestamp float64 `json:"StartingPositionTimestamp,omitempty" yaml:"StartingPositionTimestamp,omitempty"`
	// ParallelizationFactor is how many batches of one shard run at once:
	// 1–10, default 1. Records are spread by partition key, so one key's
	// records stay in order.
	ParallelizationFactor int `json:"ParallelizationFactor" yaml:"ParallelizationFactor"`
	// MaximumRetryAttempts bounds the retries after a function error:
	// -1 (the default: until the records expire) to 10,000.
	MaximumRetryAttempts int `json:"MaximumRetryAttempts" yaml:"MaximumRetryAttempts"`
	// MaximumRecordAgeInSeconds discards older records unprocessed: -1 (the
	// default: no limit) or 60–604,800.
	MaximumRecordAgeInSeconds int `json:"MaximumRecordAgeInSeconds" yaml:"MaximumRecordAgeInSeconds"`
	// BisectBatchOnFunctionError splits a failed batch in two before
	// retrying; splits do not use up retry attempts.
	BisectBatchOnFunctionError bool `json:"BisectBatchOnFunctionError" yaml:"BisectBatchOnFunctionError"`
	// FunctionResponseTypes is empty or ["ReportBatchItemFailures"].
	FunctionResponseTypes []string `json:"FunctionResponseTypes,omitempty" yaml:"FunctionResponseTypes,omitempty"`
	// OnFailure is where discarded batches are described: a file path
	// (or file://PATH) that receives one JSON on-failure record per line,
	// or stream:NAME / a Kinesis stream ARN (needs a producers.Sink, see
	// OpenDestination). Empty: discarded batches are only counted.
	OnFailure string `json:"OnFailure,omitempty" yaml:"OnFailure,omitempty"`
	// TumblingWindowInSeconds groups records into windows by arrival time
	// and passes state between the invocations of a window: 0 (none) to 900.
	TumblingWindowInSeconds int `json:"TumblingWindowInSeconds" yaml:"TumblingWindowInSeconds"`

	// Region, AccountID and Role fill the ARNs of the event:
	// eventSourceARN (when Stream is a name), invokeIdentityArn and the
	// function's ARN. Defaults us-east-1, 000000000000 (the engine's) and
	// arn:aws:iam::<account>:role/lambda-role.
	Region    string `json:"Region,omitempty" yaml:"Region,omitempty"`
	AccountID string `json:"AccountID,omitempty" yaml:"AccountID,omitempty"`
	Role      string `json:"Role,omitempty" yaml:"Role,omitempty"`
	// FunctionTimeoutSeconds bounds one invocation (Lambda's Timeout):
	// 1–900, default 3. A timeout is a function error.
	FunctionTimeoutSeconds int `json:"FunctionTimeoutSeconds,omitempty" yaml:"FunctionTimeoutSeconds,omitempty"`

	// Consumer tunes the consumer application under the mapping (clock,
	// poll interval, leases' timing, workers); the trigger sets its Limit,
	// StartPosition and checkpointing itself.
	Consumer consumers.Config `json:"-" yaml:"-"`
	// RetryBackoff is the first pause before a retry; it doubles up to 8
	// times this. Default 1s.
	RetryBackoff time.Duration `json:"-" yaml:"-"`
}

// DefaultSettings returns the service's defaults for a mapping of stream.
func DefaultSettings(stream string) Settings {
	return Settings{
		Stream:                    stream,
		BatchSize:                 100,
		StartingPosition:          Latest,
		ParallelizationFactor:     1,
		MaximumRetryAttempts:      -1,
		MaximumRecordAgeInSeconds: -1,
	}
}

// ValidationError lists what is wrong with Settings, worded as the
// service's ValidationException.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	n := len(e.Problems)
	s := "s"
	if n == 1 {
		s = ""
	}
	return fmt.Sprintf("ValidationException: %d validation error%s detected: %s", n, s, strings.Join(e.Problems, "; "))
}

// InvalidParameterError is a setting the service refuses with
// InvalidParameterValueException.
type InvalidParameterError struct{ Message string }

func (e *InvalidParameterError) Error() string { return "InvalidParameterValueException: " + e.Message }

var namePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// Validate checks the settings against the service's ranges.
func (s Settings) Validate() error {
	var p []string
	rng := func(v int, field string, lo, hi int) {
		if v < lo {
			p = append(p, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", v, field, lo))
		} else if v > hi {
			p = append(p, fmt.Sprintf("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", v, field, hi))
		}
	}
	if s.Stream == "" {
		p = append(p, "Value null at 'eventSourceArn' failed to satisfy constraint: Member must not be null")
	}
	rng(s.BatchSize, "batchSize", 1, 10000)
	rng(s.MaximumBatchingWindowInSeconds, "maximumBatchingWindowInSeconds", 0, 300)
	rng(s.ParallelizationFactor, "parallelizationFactor", 1, 10)
	rng(s.MaximumRetryAttempts, "maximumRetryAttempts", -1, 10000)
	rng(s.MaximumRecordAgeInSeconds, "maximumRecordAgeInSeconds", -1, 604800)
	rng(s.TumblingWindowInSeconds, "tumblingWindowInSeconds", 0, 900)
	if s.FunctionTimeoutSeconds != 0 {
		rng(s.FunctionTimeoutSeconds, "timeout", 1, 900)
	}
	switch s.StartingPosition {
	case Latest, TrimHorizon, AtTimestamp:
	default:
		p = append(p, fmt.Sprintf("Value '%s' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, AT_TIMESTAMP, LATEST]", s.StartingPosition))
	}
	for _, t := range s.FunctionResponseTypes {
		if t != ReportBatchItemFailures {
			p = append(p, fmt.Sprintf("Value '[%s]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]", t))
		}
	}
	if s.Name != "" && !namePattern.MatchString(s.Name) {
		p = append(p, fmt.Sprintf("Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]{1,128}", s.Name))
	}
	if s.FunctionName != "" && !namePattern.MatchString(s.FunctionName) {
		p = append(p, fmt.Sprintf("Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]{1,128}", s.FunctionName))
	}
	if len(p) > 0 {
		return &ValidationError{Problems: p}
	}
	switch {
	case s.MaximumRecordAgeInSeconds > -1 && s.MaximumRecordAgeInSeconds < 60:
		return &InvalidParameterError{fmt.Sprintf("MaximumRecordAgeInSeconds %d: values less than 60 and greater than -1 are not allowed", s.MaximumRecordAgeInSeconds)}
	case s.StartingPosition == AtTimestamp && s.StartingPositionTimestamp <= 0:
		return &InvalidParameterError{"StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP"}
	case s.StartingPosition != AtTimestamp && s.StartingPositionTimestamp != 0:
		return &InvalidParameterError{"StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP"}
	case s.TumblingWindowInSeconds > 0 && s.ParallelizationFactor > 1:
		// A window's state is one sequence of invocations per shard.
		return &InvalidParameterError{"TumblingWindowInSeconds cannot be combined with a ParallelizationFactor above 1 here"}
	case s.Exec != "" && s.URL != "":
		return &InvalidParameterError{"give Exec or URL, not both"}
	}
	return nil
}

// SetFrom sets StartingPosition from the --from flag: LATEST,
// TRIM_HORIZON, or a time (RFC 3339, or Unix seconds) for AT_TIMESTAMP,
// also written AT_TIMESTAMP=<time>.
func (s *Settings) SetFrom(v string) error {
	switch u := strings.ToUpper(v); u {
	case Latest, TrimHorizon:
		s.StartingPosition, s.StartingPositionTimestamp = u, 0
		return nil
	}
	t := strings.TrimPrefix(strings.TrimPrefix(v, "AT_TIMESTAMP="), "AT_TIMESTAMP:")
	if ts, err := time.Parse(time.RFC3339Nano, t); err == nil {
		s.StartingPosition, s.StartingPositionTimestamp = AtTimestamp, float64(ts.UnixMilli())/1000
		return nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
		s.StartingPosition, s.StartingPositionTimestamp = AtTimestamp, f
		return nil
	}
	return &InvalidParameterError{fmt.Sprintf("starting position %q: want LATEST, TRIM_HORIZON or a time (RFC 3339 or Unix seconds)", v)}
}

// withDefaults fills the names and ARNs.
func (s Settings) withDefaults() Settings {
	if s.FunctionName == "" {
		s.FunctionName = "function"
	}
	if s.Name == "" {
		s.Name = "trigger-" + s.FunctionName
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	if s.AccountID == "" {
		s.AccountID = "000000000000"
	}
	if s.Role == "" {
		s.Role = "arn:aws:iam::" + s.AccountID + ":role/lambda-role"
	}
	if s.FunctionTimeoutSeconds == 0 {
		s.FunctionTimeoutSeconds = 3
	}
	if s.RetryBackoff <= 0 {
		s.RetryBackoff = time.Second
	}
	return s
}

func (s Settings) reportItems() bool {
	for _, t := range s.FunctionResponseTypes {
		if t == ReportBatchItemFailures {
			return true
		}
	}
	return false
}

// streamARN is the eventSourceARN.
func (s Settings) streamARN() string {
	if strings.HasPrefix(s.Stream, "arn:") {
		return s.Stream
	}
	return fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", s.Region, s.AccountID, s.Stream)
}

func (s Settings) functionARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.Region, s.AccountID, s.FunctionName)
}

// consumerConfig is the App's configuration for the mapping.
func (s Settings) consumerConfig() consumers.Config {
	c := s.Consumer
	c.Limit = 10000 // as Lambda's poller: read much, invoke in BatchSize batches
	c.AutoCheckpoint = false
	switch s.StartingPosition {
	case TrimHorizon:
		c.StartPosition = engine.TrimHorizon
	case AtTimestamp:
		sec, frac := math.Modf(s.StartingPositionTimestamp)
		c.StartPosition = engine.AtTimestamp
		c.StartTimestamp = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	default:
		c.StartPosition = engine.Latest
	}
	return c
}

// Config is a file of several mappings (--config triggers.yaml):
//
//	Triggers:
//	  - Stream: orders
//	    FunctionName: audit
//	    Exec: node runner.js index.handler
//	    BatchSize: 50
type Config struct {
	Triggers []Settings `json:"Triggers" yaml:"Triggers"`
}

// LoadConfig reads a YAML or JSON file of mappings. Fields not given take
// the service's defaults; each mapping is validated, and needs Exec or URL.
func LoadConfig(path string) ([]Settings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b)
}

// ParseConfig parses the contents of a mappings file; see LoadConfig.
func ParseConfig(b []byte) ([]Settings, error) {
	var raw struct {
		Triggers []yaml.Node `yaml:"Triggers"`
	}
	// YAML is a superset of JSON: one decoder reads both.
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trigger config: %w", err)
	}
	if len(raw.Triggers) == 0 {
		return nil, errors.New("trigger config: no Triggers")
	}
	out := make([]Settings, 0, len(raw.Triggers))
	names := make(map[string]bool)
	for i, n := range raw.Triggers {
		s := DefaultSettings("")
		if err := decodeStrict(&n, &s); err != nil {
			return nil, fmt.Errorf("trigger config: Triggers[%d]: %w", i, err)
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("trigger config: Triggers[%d]: %w", i, err)
		}
		if s.Exec == "" && s.URL == "" {
			return nil, fmt.Errorf("trigger config: Triggers[%d]: InvalidParameterValueException: give Exec or URL", i)
		}
		name := s.withDefaults().Name
		if names[name] {
			return nil, fmt.Errorf("trigger config: Triggers[%d]: ResourceConflictException: a mapping named %s already exists", i, name)
		}
		names[name] = true
		out = append(out, s)
	}
	return out, nil
}

// decodeStrict decodes a node, refusing unknown fields.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}
