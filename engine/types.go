package engine

import "time"

// StreamStatus is a stream's lifecycle state.
type StreamStatus string

// The stream states of the service.
const (
	StatusCreating StreamStatus = "CREATING"
	StatusActive   StreamStatus = "ACTIVE"
	StatusUpdating StreamStatus = "UPDATING"
	StatusDeleting StreamStatus = "DELETING"
)

// StreamMode is a stream's capacity mode.
type StreamMode string

// The capacity modes.
const (
	ModeProvisioned StreamMode = "PROVISIONED"
	ModeOnDemand    StreamMode = "ON_DEMAND"
)

// IteratorType names where a shard iterator starts.
type IteratorType string

// The five shard-iterator types.
const (
	AtSequenceNumber    IteratorType = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber IteratorType = "AFTER_SEQUENCE_NUMBER"
	TrimHorizon         IteratorType = "TRIM_HORIZON"
	Latest              IteratorType = "LATEST"
	AtTimestamp         IteratorType = "AT_TIMESTAMP"
)

// ShardFilterType is the ListShards filter kind.
type ShardFilterType string

// The ListShards filter kinds.
const (
	FilterAfterShardID    ShardFilterType = "AFTER_SHARD_ID"
	FilterAtTrimHorizon   ShardFilterType = "AT_TRIM_HORIZON"
	FilterFromTrimHorizon ShardFilterType = "FROM_TRIM_HORIZON"
	FilterAtLatest        ShardFilterType = "AT_LATEST"
	FilterAtTimestamp     ShardFilterType = "AT_TIMESTAMP"
	FilterFromTimestamp   ShardFilterType = "FROM_TIMESTAMP"
)

// StreamRef names a stream by name, by ARN, or by both (which must agree).
type StreamRef struct {
	StreamName string
	StreamARN  string
}

// Shard describes one shard as ListShards and DescribeStream report it.
type Shard struct {
	ShardID               string
	ParentShardID         string // "" when none
	AdjacentParentShardID string // "" when none
	HashKeyRange          HashKeyRange
	// StartingSequenceNumber is a lower bound of the shard's sequence numbers.
	StartingSequenceNumber string
	// EndingSequenceNumber is set once the shard is closed.
	EndingSequenceNumber string
}

// Open reports whether the shard still takes writes.
func (s Shard) Open() bool { return s.EndingSequenceNumber == "" }

// CreateStreamInput is the input of CreateStream.
type CreateStreamInput struct {
	StreamName string
	// ShardCount is required in PROVISIONED mode; ON_DEMAND starts with 4 shards.
	ShardCount int
	Mode       StreamMode // "" means PROVISIONED
	Tags       map[string]string
	// MaxRecordSizeInKiB is the record size limit, 1024–10240; 0 means 1024.
	MaxRecordSizeInKiB int
	// WarmThroughputMiBps is an ON_DEMAND stream's warm throughput (see
	// UpdateStreamWarmThroughput); 0 means none.
	WarmThroughputMiBps int
}

// StreamDescription is the output of DescribeStream.
type StreamDescription struct {
	StreamName           string
	StreamARN            string
	StreamStatus         StreamStatus
	StreamMode           StreamMode
	Shards               []Shard
	HasMoreShards        bool
	RetentionPeriodHours int
	StreamCreation       time.Time
	EncryptionType       string
	// KeyID is the KMS key of an encrypted stream, as given to
	// StartStreamEncryption; "" when EncryptionType is NONE.
	KeyID string
	// EnhancedMonitoring lists the shard-level metrics turned on.
	EnhancedMonitoring []string
}

// DescribeStreamInput is the input of DescribeStream.
type DescribeStreamInput struct {
	StreamRef
	Limit                 int // 1–10000, default and cap 100
	ExclusiveStartShardID string
}

// StreamSummary is the output of DescribeStreamSummary.
type StreamSummary struct {
	StreamName           string
	StreamARN            string
	StreamStatus         StreamStatus
	StreamMode           StreamMode
	RetentionPeriodHours int
	StreamCreation       time.Time
	EncryptionType       string
	// KeyID is the KMS key of an encrypted stream, as given to
	// StartStreamEncryption; "" when EncryptionType is NONE.
	KeyID              string
	OpenShardCount     int
	ConsumerCount      int
	MaxRecordSizeInKiB int
	// EnhancedMonitoring lists the shard-level metrics turned on.
	EnhancedMonitoring []string
	// WarmThroughput is set for ON_DEMAND streams.
	WarmThroughput *WarmThroughput
}

// ListStreamsInput is the input of ListStreams.
type ListStreamsInput struct {
	Limit                    int // 1–10000, default and cap 100
	ExclusiveStartStreamName string
	NextToken                string
}

// StreamListEntry is one stream in ListStreams.
type StreamListEntry struct {
	StreamName     string
	StreamARN      string
	StreamStatus   StreamStatus
	StreamMode     StreamMode
	StreamCreation time.Time
}

// ListStreamsOutput is the output of ListStreams.
type ListStreamsOutput struct {
	Streams        []StreamListEntry
	HasMoreStreams bool
	NextToken      string
}

// ShardFilter narrows ListShards.
type ShardFilter struct {
	Type      ShardFilterType
	ShardID   string
	Timestamp time.Time
}

// ListShardsInput is the input of ListShards.
type ListShardsInput struct {
	StreamRef
	NextToken             string
	ExclusiveStartShardID string
	MaxResults            int // 1–10000, default and cap 1000
	// StreamCreationTimestamp, when set, must match the stream's.
	StreamCreationTimestamp time.Time
	Filter                  *ShardFilter
}

// ListShardsOutput is the output of ListShards.
type ListShardsOutput struct {
	Shards    []Shard
	NextToken string
}

// PutRecordInput is the input of PutRecord.
type PutRecordInput struct {
	StreamRef
	Data                      []byte
	PartitionKey              string
	ExplicitHashKey           string
	SequenceNumberForOrdering string
}

// PutRecordOutput is the output of PutRecord.
type PutRecordOutput struct {
	ShardID        string
	SequenceNumber string
	EncryptionType string
}

// PutRecordsEntry is one record of a PutRecords call.
type PutRecordsEntry struct {
	Data            []byte
	PartitionKey    string
	ExplicitHashKey string
}

// PutRecordsInput is the input of PutRecords.
type PutRecordsInput struct {
	StreamRef
	Records []PutRecordsEntry
}

// PutRecordsResult is the outcome of one record of a PutRecords call:
// ShardID and SequenceNumber, or ErrorCode and ErrorMessage.
type PutRecordsResult struct {
	ShardID        string
	SequenceNumber string
	ErrorCode      ErrorCode
	ErrorMessage   string
}

// PutRecordsOutput is the output of PutRecords, one result per input record
// in the same order.
type PutRecordsOutput struct {
	FailedRecordCount int
	Records           []PutRecordsResult
	EncryptionType    string
}

// GetShardIteratorInput is the input of GetShardIterator.
type GetShardIteratorInput struct {
	StreamRef
	ShardID                string
	ShardIteratorType      IteratorType
	StartingSequenceNumber string
	Timestamp              time.Time
}

// GetRecordsInput is the input of GetRecords.
type GetRecordsInput struct {
	ShardIterator string
	Limit         int // 1–10000; 0 means 10000
	StreamARN     string
}

// Record is a record as readers see it.
type Record struct {
	SequenceNumber              string
	ApproximateArrivalTimestamp time.Time
	Data                        []byte
	PartitionKey                string
	// ExplicitHashKey is the hash key the writer gave, "" when it was derived
	// from the partition key.
	ExplicitHashKey string
	EncryptionType  string
}

// ChildShard names a shard that continues a closed one.
type ChildShard struct {
	ShardID      string
	ParentShards []string
	HashKeyRange HashKeyRange
}

// GetRecordsOutput is the output of GetRecords. NextShardIterator is ""
// once a closed shard has been read to its end; that response lists the
// child shards.
type GetRecordsOutput struct {
	Records            []Record
	NextShardIterator  string
	MillisBehindLatest int64
	ChildShards        []ChildShard
}

// SplitShardInput is the input of SplitShard.
type SplitShardInput struct {
	StreamRef
	ShardToSplit       string
	NewStartingHashKey string
}

// MergeShardsInput is the input of MergeShards.
type MergeShardsInput struct {
	StreamRef
	ShardToMerge         string
	AdjacentShardToMerge string
}

// UpdateShardCountInput is the input of UpdateShardCount (UNIFORM_SCALING).
type UpdateShardCountInput struct {
	StreamRef
	TargetShardCount int
	ScalingType      string // "" or "UNIFORM_SCALING"
}

// UpdateShardCountOutput is the output of UpdateShardCount.
type UpdateShardCountOutput struct {
	StreamName        string
	StreamARN         string
	CurrentShardCount int
	TargetShardCount  int
}

// UpdateStreamModeInput is the input of UpdateStreamMode.
type UpdateStreamModeInput struct {
	StreamARN string
	Mode      StreamMode
	// WarmThroughputMiBps, only with ON_DEMAND, sets the warm throughput
	// as UpdateStreamWarmThroughput does; 0 means none.
	WarmThroughputMiBps int
}

// RetentionInput is the input of IncreaseStreamRetentionPeriod and
// DecreaseStreamRetentionPeriod.
type RetentionInput struct {
	StreamRef
	RetentionPeriodHours int
}

// ListTagsInput is the input of ListTagsForStream.
type ListTagsInput struct {
	StreamRef
	ExclusiveStartTagKey string
	Limit                int // 1–50, default 50
}

// Tag is a key and value.
type Tag struct {
	Key   string
	Value string
}

// ListTagsOutput is the output of ListTagsForStream, sorted by key.
type ListTagsOutput struct {
	Tags        []Tag
	HasMoreTags bool
}

// Limits is the output of DescribeLimits.
type Limits struct {
	ShardLimit               int
	OpenShardCount           int
	OnDemandStreamCount      int
	OnDemandStreamCountLimit int
}

// DeleteStreamInput is the input of DeleteStream.
type DeleteStreamInput struct {
	StreamRef
	EnforceConsumerDeletion bool
}

// AddTagsInput is the input of AddTagsToStream.
type AddTagsInput struct {
	StreamRef
	Tags map[string]string
}

// RemoveTagsInput is the input of RemoveTagsFromStream.
type RemoveTagsInput struct {
	StreamRef
	TagKeys []string
}

// StartingPosition says where a subscription starts (the iterator types).
type StartingPosition struct {
	Type           IteratorType
	SequenceNumber string
	Timestamp      time.Time
}

// SubscribeInput is the input of Subscribe.
type SubscribeInput struct {
	StreamRef
	ShardID  string
	Position StartingPosition
}

// SubscriptionEvent is one delivery of a subscription: the records since the
// last event, where to continue, and at a closed shard's end its children.
// Exactly one of ContinuationSequenceNumber and ChildShards is set, as the
// KCL requires: the continuation on every event but a closed shard's last.
type SubscriptionEvent struct {
	Records []Record
	// ContinuationSequenceNumber is where to resume (AFTER_SEQUENCE_NUMBER);
	// "" on the last event of a closed shard, which has no more to read.
	ContinuationSequenceNumber string
	MillisBehindLatest         int64
	// ChildShards is set on the last event of a closed shard, and only
	// there; after it the subscription ends (Next returns io.EOF).
	ChildShards []ChildShard
}

// TapRecord is a committed record as the console's feed sees it.
type TapRecord struct {
	Stream  string
	ShardID string
	HashKey HashKey
	Record
}
