package kcl

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/shardscope/shardscope/api/remote/remotetest"
)

// The tests run against dynalite (npm, pinned with the other test servers
// in api/remote/testdata/servers), one per test; each uses tables of its
// own.
func TestMain(m *testing.M) { remotetest.Main(m) }

// dynamo starts dynalite and returns a client of it. Without node or npm
// it skips the test, unless CI is "true": there it must run.
func dynamo(t testing.TB) *dynamodb.Client {
	t.Helper()
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(remotetest.Dynalite(t)),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

var tableSeq atomic.Int64

// newTable creates a lease table of a fresh name.
func newTable(t testing.TB, client *dynamodb.Client, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, tableSeq.Add(1))
	if err := CreateLeaseTable(context.Background(), client, name, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return name
}
