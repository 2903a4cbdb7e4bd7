package trigger

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/shardscope/shardscope/consumers"
)

// Event is the event Lambda sends a function for a batch of Kinesis
// records; with a tumbling window it gains the window fields.
type Event struct {
	Records []EventRecord `json:"Records"`

	// Tumbling windows only.
	Window                  *Window         `json:"window,omitempty"`
	State                   json.RawMessage `json:"state,omitempty"`
	ShardID                 string          `json:"shardId,omitempty"`
	EventSourceARN          string          `json:"eventSourceARN,omitempty"`
	IsFinalInvokeForWindow  *bool           `json:"isFinalInvokeForWindow,omitempty"`
	IsWindowTerminatedEarly *bool           `json:"isWindowTerminatedEarly,omitempty"`
}

// Window is a tumbling window's bounds.
type Window struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// EventRecord is one record of an Event.
type EventRecord struct {
	Kinesis           KinesisData `json:"kinesis"`
	EventSource       string      `json:"eventSource"`
	EventVersion      string      `json:"eventVersion"`
	EventID           string      `json:"eventID"`
	EventName         string      `json:"eventName"`
	InvokeIdentityArn string      `json:"invokeIdentityArn"`
	AWSRegion         string      `json:"awsRegion"`
	EventSourceARN    string      `json:"eventSourceARN"`
}

// KinesisData is the kinesis part of an EventRecord.
type KinesisData struct {
	KinesisSchemaVersion        string    `json:"kinesisSchemaVersion"`
	PartitionKey                string    `json:"partitionKey"`
	SequenceNumber              string    `json:"sequenceNumber"`
	Data                        []byte    `json:"data"` // base64 in JSON
	ApproximateArrivalTimestamp EpochTime `json:"approximateArrivalTimestamp"`
	EncryptionType              string    `json:"encryptionType,omitempty"`
}

// EpochTime is a time written as epoch seconds with milliseconds
// (1545084650.987), as Lambda writes approximateArrivalTimestamp.
type EpochTime time.Time

// MarshalJSON writes seconds with three decimals.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', 3, 64), nil
}

// UnmarshalJSON reads epoch seconds.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*t = EpochTime(time.UnixMilli(int64(f*1000 + 0.5)).UTC())
	return nil
}

// eventRecord turns a record of shard into its event form.
func (t *Trigger) eventRecord(shardID string, r consumers.UserRecord) EventRecord {
	enc := r.EncryptionType
	if enc == "NONE" {
		enc = "" // present only for encrypted streams
	}
	return EventRecord{
		Kinesis: KinesisData{
			KinesisSchemaVersion:        "1.0",
			PartitionKey:                r.PartitionKey,
			SequenceNumber:              r.SequenceNumber,
			Data:                        r.Data,
			ApproximateArrivalTimestamp: EpochTime(r.ApproximateArrivalTimestamp),
			EncryptionType:              enc,
		},
		EventSource:       "aws:kinesis",
		EventVersion:      "1.0",
		EventID:           shardID + ":" + r.SequenceNumber,
		EventName:         "aws:kinesis:record",
		InvokeIdentityArn: t.set.Role,
		AWSRegion:         t.set.Region,
		EventSourceARN:    t.arn,
	}
}

// eventOverhead estimates the JSON around a record's data, to keep an
// event within the 6 MB payload limit.
const eventOverhead = 512

// maxPayload is Lambda's synchronous invocation payload limit.
const maxPayload = 6 << 20

func recordSize(r consumers.UserRecord) int {
	return (len(r.Data)+2)/3*4 + len(r.PartitionKey) + eventOverhead
}
