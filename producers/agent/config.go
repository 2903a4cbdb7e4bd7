package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Config is an agent.json: where checkpoints go, the endpoint, and flows.
type Config struct {
	// CheckpointFile keeps the offsets of every tailed file.
	CheckpointFile string
	// Endpoint and Region come from kinesis.endpoint and kinesis.region;
	// the command line may override them.
	Endpoint, Region string
	Flows            []Flow
	// Ignored lists the agent.json keys that mean something to the
	// Amazon Kinesis Agent and nothing here (CloudWatch, credentials,
	// thread pools); the command prints them once.
	Ignored []string
}

// Flow is one file pattern sent to one stream.
type Flow struct {
	// FilePattern is a glob on the file name; its directory is literal.
	FilePattern string
	Stream      string
	// PartitionKey is PartitionKeyRandom, PartitionKeyDeterministic or
	// PartitionKeyField (then PartitionKeyField names a field of the
	// record, JSON after processing).
	PartitionKey      string
	PartitionKeyField string
	// StartAtEnd is initialPosition END_OF_FILE: files present at the first
	// start of a flow without a checkpoint are read from their end.
	StartAtEnd bool
	// A buffer is sent when it holds MaxBufferRecords or MaxBufferBytes, or
	// its oldest record is MaxBufferAge old.
	MaxBufferAge     time.Duration
	MaxBufferRecords int
	MaxBufferBytes   int
	// MultiLineStart marks the first line of a record; nil: a line is a record.
	MultiLineStart *regexp.Regexp
	// FileFooter stops a file at the first line it matches.
	FileFooter *regexp.Regexp
	// SkipHeaderLines are skipped at the start of every file.
	SkipHeaderLines int
	// TruncatedRecordTerminator ends a record cut to the record size limit.
	TruncatedRecordTerminator string
	// PollInterval is how often files are listed and read.
	PollInterval time.Duration
	// RetryInitial and RetryMax bound the backoff between resends.
	RetryInitial, RetryMax time.Duration
	// MaxRecordsPerSecond paces the flow; 0 is no limit.
	MaxRecordsPerSecond float64
	// Processing is applied to every record in order.
	Processing []Processor
}

// Partition key options.
const (
	PartitionKeyRandom        = "RANDOM"
	PartitionKeyDeterministic = "DETERMINISTIC"
	PartitionKeyFieldOption   = "FIELD"
)

// The Amazon Kinesis Agent's limits and defaults for a Kinesis flow.
const (
	defaultMaxBufferAge     = 60 * time.Second
	defaultMaxBufferRecords = 500
	defaultMaxBufferBytes   = 5 << 20
	defaultPollInterval     = 100 * time.Millisecond
	defaultRetryInitial     = 100 * time.Millisecond
	defaultRetryMax         = 10 * time.Second
)

// ignoredGlobal are agent.json keys of the Amazon Kinesis Agent that have
// no meaning here.
var ignoredGlobal = []string{
	"awsAccessKeyId", "awsSecretAccessKey", "assumeRoleARN", "assumeRoleExternalId",
	"firehose.endpoint", "cloudwatch.endpoint", "sts.endpoint", "cloudwatch.emitMetrics",
	"cloudwatch.namespace", "cloudwatch.metricsBufferTimeMillis", "cloudwatch.metricsQueueSize",
	"cloudwatch.tagInstance", "checkpointTimeToLiveDays", "maxSendingThreadsPerCore",
	"maxSendingThreads", "sendingThreadsKeepAliveMillis", "sendingThreadsMaxQueueSize",
	"maxConnections", "connectionTimeoutMillis", "socketTimeoutMillis", "connectionTTLMillis",
	"useTcpKeepAlive", "useHttpGzip", "shutdownTimeoutMillis", "log.emitMetrics",
	"log.emitInternalMetrics", "log.statusReportingPeriodSeconds", "userAgent",
	"userAgentOverride", "userDefinedCredentialsProvider.classname",
	"userDefinedCredentialsProvider.location",
}

var ignoredFlow = []string{
	"maxTimeBetweenFileTrackerRefreshMillis", "publishQueueCapacity",
	"waitOnFullPublishQueueMillis", "waitOnEmptyPublishQueueMillis",
}

// LoadConfig reads and checks an agent.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses and checks the text of an agent.json.
func ParseConfig(data []byte) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := decodeStrict(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	cfg := &Config{}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		var err error
		switch k {
		case "checkpointFile":
			err = json.Unmarshal(v, &cfg.CheckpointFile)
		case "kinesis.endpoint":
			err = json.Unmarshal(v, &cfg.Endpoint)
		case "kinesis.region":
			err = json.Unmarshal(v, &cfg.Region)
		case "flows":
			var flows []map[string]json.RawMessage
			if err = json.Unmarshal(v, &flows); err == nil {
				for i, fr := range flows {
					f, ignored, ferr := parseFlow(fr)
					if ferr != nil {
						return nil, fmt.Errorf("flows[%d]: %w", i, ferr)
					}
					cfg.Flows = append(cfg.Flows, f)
					for _, ig := range ignored {
						cfg.Ignored = append(cfg.Ignored, fmt.Sprintf("flows[%d].%s", i, ig))
					}
				}
			}
		default:
			if !slices.Contains(ignoredGlobal, k) {
				return nil, fmt.Errorf("unknown key %q", k)
			}
			cfg.Ignored = append(cfg.Ignored, k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if len(cfg.Flows) == 0 {
		return nil, fmt.Errorf("no flows: give at least one {\"filePattern\": …, \"kinesisStream\": …}")
	}
	return cfg, nil
}

// NewFlow is a flow with the agent's defaults, for the command line's
// --file GLOB --stream S.
func NewFlow(pattern, stream string) (Flow, error) {
	raw := map[string]json.RawMessage{
		"filePattern":   mustJSON(pattern),
		"kinesisStream": mustJSON(stream),
	}
	f, _, err := parseFlow(raw)
	return f, err
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func parseFlow(raw map[string]json.RawMessage) (Flow, []string, error) {
	f := Flow{
		PartitionKey:              PartitionKeyRandom,
		StartAtEnd:                true,
		MaxBufferAge:              defaultMaxBufferAge,
		MaxBufferRecords:          defaultMaxBufferRecords,
		MaxBufferBytes:            defaultMaxBufferBytes,
		TruncatedRecordTerminator: "\n",
		PollInterval:              defaultPollInterval,
		RetryInitial:              defaultRetryInitial,
		RetryMax:                  defaultRetryMax,
	}
	var ignored []string
	str := func(v json.RawMessage, dst *string) error { return json.Unmarshal(v, dst) }
	millis := func(v json.RawMessage, lo, hi int64, dst *time.Duration) error {
		var n int64
		if err := json.Unmarshal(v, &n); err != nil {
			return err
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside %d–%d", n, lo, hi)
		}
		*dst = time.Duration(n) * time.Millisecond
		return nil
	}
	intIn := func(v json.RawMessage, lo, hi int, dst *int) error {
		var n int
		if err := json.Unmarshal(v, &n); err != nil {
			return err
		}
		if n < lo || n > hi {
			return fmt.Errorf("%d is outside %d–%d", n, lo, hi)
		}
		*dst = n
		return nil
	}
	pattern := func(v json.RawMessage, dst **regexp.Regexp) error {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return err
		}
		*dst = re
		return nil
	}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		var err error
		switch k {
		case "filePattern":
			err = str(v, &f.FilePattern)
		case "kinesisStream":
			err = str(v, &f.Stream)
		case "deliveryStream":
			err = fmt.Errorf("this agent writes to Kinesis data streams only (kinesisStream); for delivery to files, S3 or PostgreSQL read the stream with `shardscope deliver`")
		case "partitionKeyOption":
			var s string
			if err = str(v, &s); err == nil {
				switch {
				case s == PartitionKeyRandom || s == PartitionKeyDeterministic:
					f.PartitionKey = s
				case strings.HasPrefix(s, PartitionKeyFieldOption+":") && len(s) > len(PartitionKeyFieldOption)+1:
					f.PartitionKey = PartitionKeyFieldOption
					f.PartitionKeyField = s[len(PartitionKeyFieldOption)+1:]
				default:
					err = fmt.Errorf("%q: want RANDOM, DETERMINISTIC or FIELD:name", s)
				}
			}
		case "initialPosition":
			var s string
			if err = str(v, &s); err == nil {
				switch s {
				case "END_OF_FILE":
					f.StartAtEnd = true
				case "START_OF_FILE":
					f.StartAtEnd = false
				default:
					err = fmt.Errorf("%q: want END_OF_FILE or START_OF_FILE", s)
				}
			}
		case "maxBufferAgeMillis":
			err = millis(v, 1000, 900000, &f.MaxBufferAge)
		case "maxBufferSizeRecords":
			err = intIn(v, 1, 500, &f.MaxBufferRecords)
		case "maxBufferSizeBytes":
			err = intIn(v, 1, 5<<20, &f.MaxBufferBytes)
		case "multiLineStartPattern":
			err = pattern(v, &f.MultiLineStart)
		case "fileFooterPattern":
			err = pattern(v, &f.FileFooter)
		case "skipHeaderLines":
			err = intIn(v, 0, 1<<30, &f.SkipHeaderLines)
		case "truncatedRecordTerminator":
			err = str(v, &f.TruncatedRecordTerminator)
		case "minTimeBetweenFilePollsMillis":
			err = millis(v, 1, 60000, &f.PollInterval)
		case "retryInitialBackoffMillis":
			err = millis(v, 1, 600000, &f.RetryInitial)
		case "retryMaxBackoffMillis":
			err = millis(v, 1, 600000, &f.RetryMax)
		case "maxRecordsPerSecond":
			if err = json.Unmarshal(v, &f.MaxRecordsPerSecond); err == nil && f.MaxRecordsPerSecond < 0 {
				err = fmt.Errorf("%v is negative", f.MaxRecordsPerSecond)
			}
		case "dataProcessingOptions":
			var opts []map[string]json.RawMessage
			if err = json.Unmarshal(v, &opts); err == nil {
				for i, o := range opts {
					p, perr := parseProcessor(o)
					if perr != nil {
						err = fmt.Errorf("[%d]: %w", i, perr)
						break
					}
					f.Processing = append(f.Processing, p)
				}
			}
		default:
			if !slices.Contains(ignoredFlow, k) {
				return f, nil, fmt.Errorf("unknown key %q", k)
			}
			ignored = append(ignored, k)
		}
		if err != nil {
			return f, nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if f.FilePattern == "" {
		return f, nil, fmt.Errorf("filePattern is required")
	}
	if f.Stream == "" {
		return f, nil, fmt.Errorf("kinesisStream is required")
	}
	if _, err := filepath.Match(filepath.Base(f.FilePattern), ""); err != nil {
		return f, nil, fmt.Errorf("filePattern %q: %w", f.FilePattern, err)
	}
	if strings.ContainsAny(filepath.Dir(f.FilePattern), "*?[") {
		return f, nil, fmt.Errorf("filePattern %q: only the file name may have wildcards, the directory is literal", f.FilePattern)
	}
	if f.RetryMax < f.RetryInitial {
		f.RetryMax = f.RetryInitial
	}
	return f, ignored, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("text after the object")
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
