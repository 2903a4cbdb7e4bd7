package kcl

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ScanAPI is the DynamoDB call ReadLeases makes; *dynamodb.Client has it.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ ScanAPI = (*dynamodb.Client)(nil)

// maxScanPages bounds a read: a lease table of 10,000 pages (1 MB each)
// is not one a console should scan every few seconds.
const maxScanPages = 10000

// ReadLeases scans a KCL lease table, page by page, and returns its
// leases ordered by key. Rows of a KCL 3.5 single table that are not
// leases are skipped. It reads eventually consistent, as the KCL's own
// list does by default, and costs one read unit per 8 KB scanned (half a
// unit per 4 KB). An item that is not a lease fails the read with an
// error wrapping ErrNotLease; DynamoDB's errors (ResourceNotFoundException
// for a missing table, AccessDeniedException, …) are returned wrapped.
func ReadLeases(ctx context.Context, client ScanAPI, table string) ([]Lease, error) {
	items, err := scanAll(ctx, client, table, false)
	if err != nil {
		return nil, err
	}
	out := make([]Lease, 0, len(items))
	for _, item := range items {
		l, ok, err := ParseItem(item)
		if err != nil {
			return nil, fmt.Errorf("read lease table %s: %w", table, err)
		}
		if ok {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// scanAll reads every item of table.
func scanAll(ctx context.Context, client ScanAPI, table string, consistent bool) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.ScanInput{TableName: aws.String(table)}
	if consistent {
		in.ConsistentRead = aws.Bool(true)
	}
	var items []map[string]types.AttributeValue
	for page := 0; ; page++ {
		if page == maxScanPages {
			return nil, fmt.Errorf("scan %s: more than %d pages", table, maxScanPages)
		}
		out, err := client.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", table, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// ErrorName returns the DynamoDB error name in err's chain (such as
// "ResourceNotFoundException"), or "" when there is none: what a console
// shows beside the message.
func ErrorName(err error) string {
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
