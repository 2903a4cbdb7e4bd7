package trigger

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/shardscope/shardscope/engine"
	"github.com/shardscope/shardscope/producers"
)

// The conditions of an on-failure record.
const (
	RetryAttemptsExhausted = "RetryAttemptsExhausted"
	RecordAgeExceeded      = "RecordAgeExceeded"
)

// FailureRecord is the service's on-failure record for a discarded batch.
// Payload (the batch's event) is there as in an S3 destination's objects;
// SQS and SNS destinations get the record without it.
type FailureRecord struct {
	RequestContext   RequestContext   `json:"requestContext"`
	ResponseContext  *ResponseContext `json:"responseContext,omitempty"`
	Version          string           `json:"version"`
	Timestamp        string           `json:"timestamp"`
	KinesisBatchInfo KinesisBatchInfo `json:"KinesisBatchInfo"`
	Payload          *Event           `json:"payload,omitempty"`
}

// RequestContext is part of a FailureRecord.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the last invocation's outcome; absent for
// RecordAgeExceeded. FunctionError is "Unhandled" for a function error,
// null for a reply that failed the batch (such as batchItemFailures).
type ResponseContext struct {
	StatusCode      int     `json:"statusCode"`
	ExecutedVersion string  `json:"executedVersion"`
	FunctionError   *string `json:"functionError"`
}

// KinesisBatchInfo describes the discarded records.
type KinesisBatchInfo struct {
	ShardID                         string `json:"shardId"`
	StartSequenceNumber             string `json:"startSequenceNumber"`
	EndSequenceNumber               string `json:"endSequenceNumber"`
	ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
	ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
	BatchSize                       int    `json:"batchSize"`
	StreamArn                       string `json:"streamArn"`
}

// Destination receives the on-failure records of discarded batches.
type Destination interface {
	Send(ctx context.Context, rec FailureRecord) error
}

// isoMillis is the on-failure record's time format.
const isoMillis = "2006-01-02T15:04:05.000Z"

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// FileDestination appends each record as one line of JSON to a file.
type FileDestination struct {
	mu   sync.Mutex
	path string
}

// NewFileDestination returns a destination appending to path (created
// when missing).
func NewFileDestination(path string) *FileDestination { return &FileDestination{path: path} }

// Send appends rec.
func (d *FileDestination) Send(_ context.Context, rec FailureRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// StreamDestination puts each record (without its payload, as an SQS
// destination gets it) into a stream, keyed by the shard it came from.
type StreamDestination struct {
	Sink   producers.Sink
	Stream string
}

// Send puts rec into the stream.
func (d *StreamDestination) Send(ctx context.Context, rec FailureRecord) error {
	rec.Payload = nil
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ref := engine.StreamRef{StreamName: d.Stream}
	if strings.HasPrefix(d.Stream, "arn:") {
		ref = engine.StreamRef{StreamARN: d.Stream}
	}
	out, err := d.Sink.PutRecords(ctx, engine.PutRecordsInput{StreamRef: ref, Records: []engine.PutRecordsEntry{{PartitionKey: rec.KinesisBatchInfo.ShardID, Data: b}}})
	if err != nil {
		return err
	}
	if out.FailedRecordCount > 0 && len(out.Records) > 0 {
		return fmt.Errorf("%s: %s", out.Records[0].ErrorCode, out.Records[0].ErrorMessage)
	}
	return nil
}

// OpenDestination opens Settings.OnFailure: "stream:NAME" or a Kinesis
// stream ARN (through sink), else a file path (file:// allowed). "" gives
// nil: discarded batches are only counted.
func OpenDestination(spec string, sink producers.Sink) (Destination, error) {
	switch {
	case spec == "":
		return nil, nil
	case strings.HasPrefix(spec, "stream:") || strings.HasPrefix(spec, "arn:aws:kinesis:"):
		if sink == nil {
			return nil, errors.New("InvalidParameterValueException: an on-failure stream needs a sink")
		}
		return &StreamDestination{Sink: sink, Stream: strings.TrimPrefix(spec, "stream:")}, nil
	case strings.HasPrefix(spec, "arn:"):
		return nil, fmt.Errorf("InvalidParameterValueException: on-failure destination %s: only a file or a Kinesis stream", spec)
	}
	return NewFileDestination(strings.TrimPrefix(spec, "file://")), nil
}

// failureRecord describes the discarded records recs.
func (p *shardProc) failureRecord(cond string, recs []item, invokes int, fnErr *string, withResponse bool) FailureRecord {
	t := p.t
	first, last := recs[0].r, recs[len(recs)-1].r
	fr := FailureRecord{
		RequestContext: RequestContext{RequestID: newUUID(), FunctionArn: t.set.functionARN(), Condition: cond, ApproximateInvokeCount: invokes},
		Version:        "1.0",
		Timestamp:      t.now().UTC().Format(isoMillis),
		KinesisBatchInfo: KinesisBatchInfo{
			ShardID:                         p.shard,
			StartSequenceNumber:             first.SequenceNumber,
			EndSequenceNumber:               last.SequenceNumber,
			ApproximateArrivalOfFirstRecord: first.ApproximateArrivalTimestamp.UTC().Format(isoMillis),
			ApproximateArrivalOfLastRecord:  last.ApproximateArrivalTimestamp.UTC().Format(isoMillis),
			BatchSize:                       len(recs),
			StreamArn:                       t.arn,
		},
	}
	if withResponse {
		fr.ResponseContext = &ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: fnErr}
	}
	ev := p.event(recs, nil)
	fr.Payload = &ev
	return fr
}
