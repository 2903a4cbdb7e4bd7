package kcl

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// NewClient returns a DynamoDB client from cfg (such as
// config.LoadDefaultConfig's), sent to endpoint when it is not "" (a
// local DynamoDB such as dynalite or DynamoDB Local).
func NewClient(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// Poller reads a lease table again and again for a console, remembering
// the previous read to report moves. It is not safe for concurrent use:
// one goroutine polls.
type Poller struct {
	client ScanAPI
	table  string
	prev   []Lease
	read   bool
}

// NewPoller returns a Poller of table.
func NewPoller(client ScanAPI, table string) *Poller {
	return &Poller{client: client, table: table}
}

// Table returns the table's name.
func (p *Poller) Table() string { return p.table }

// Poll reads the table and returns its View (see Summarize) and the moves
// since the previous successful Poll (none the first time). A failed read
// returns the error and leaves the previous read in place.
func (p *Poller) Poll(ctx context.Context, tips map[string]ShardTip, now time.Time) (View, []Move, error) {
	leases, err := ReadLeases(ctx, p.client, p.table)
	if err != nil {
		return View{}, nil, err
	}
	var moves []Move
	if p.read {
		moves = Moves(p.prev, leases)
	}
	p.prev, p.read = leases, true
	return Summarize(leases, tips, now), moves, nil
}
