package deliver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/shardscope/shardscope/api/remote/remotetest"
	"github.com/shardscope/shardscope/consumers"
)

// s3Objects lists and reads every object of the bucket.
func s3Objects(t testing.TB, d *S3) (lines []string, keys []string) {
	t.Helper()
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{Bucket: aws.String(d.bucket), MaxKeys: aws.Int32(7)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			keys = append(keys, *o.Key)
			lines = append(lines, objectLines(t, *o.Key, b)...)
		}
	}
	return lines, keys
}

// To S3 (s3rver): every record once, in Firehose's keys under the URL's
// prefix; while the server is down the batches wait and are retried, and
// arrive once it is back.
func TestS3GetsEveryRecordOnceAndWaitsOutAnOutage(t *testing.T) {
	srv := remotetest.StartS3rver(t)
	e := newEngine(t, 2)
	ctx := context.Background()
	dest, prefix, err := Open(ctx, "s3://firehose/clicks/", DestinationOptions{S3Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	s3d := dest.(*S3)
	set := Settings{BufferSizeMiB: 1, BufferInterval: 0, Prefix: prefix, GZIP: true, RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	d, _ := runApp(t, e, set, dest, consumers.NewMemoryCheckpoints())
	put(t, e, 0, 1000)
	waitFor(t, "1,000 records in S3", func() bool { return d.Stats().Records >= 1000 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })

	srv.Stop()
	put(t, e, 1000, 1500)
	waitFor(t, "failed deliveries while s3rver is down", func() bool { return d.Stats().Failures >= 2 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	if st := d.Stats(); st.Records != 1000 || st.Buffered == 0 {
		t.Fatalf("while S3 is down: %+v", st)
	}
	srv.Start()
	waitFor(t, "the waiting 500 delivered", func() bool { return d.Stats().Records >= 1500 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	lines, keys := s3Objects(t, s3d)
	checkOnce(t, lines, 1500)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "clicks/")
		if !ok || !keyShape.MatchString(rest) || !strings.HasSuffix(k, ".gz") {
			t.Fatalf("object key %q", k)
		}
	}
}

func pgCount(t testing.TB, dsn, query string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// To PostgreSQL with the default mapping (a table made with the record's
// metadata and a jsonb column): the server is stopped in the middle of the
// load and started again; afterwards every record is there once. The
// table's primary key (shard, sequence number) would refuse a repeat, and
// the checkpoint row must equal the last row.
func TestPostgresExactlyOnceAcrossAServerStop(t *testing.T) {
	pg := startPostgres(t)
	e := newEngine(t, 2)
	ctx := context.Background()
	dest, _, err := Open(ctx, pg.dsn(), DestinationOptions{Table: "clicks", App: "deliver"})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	set := Settings{BufferSizeMiB: 1, BufferInterval: 0, RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	d, _ := runApp(t, e, set, dest, consumers.NewMemoryCheckpoints())
	put(t, e, 0, 3000)
	waitFor(t, "some rows", func() bool { return d.Stats().Rows > 0 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	pg.stop()
	put(t, e, 3000, 6000)
	waitFor(t, "failures while PostgreSQL is down", func() bool { return d.Stats().Failures >= 2 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	pg.start()
	waitFor(t, "all 6,000 rows", func() bool { return d.Stats().Rows >= 6000 }, func() string { return fmt.Sprintf("%+v", d.Stats()) })
	if n := pgCount(t, pg.dsn(), `SELECT count(DISTINCT data->>'id') FROM clicks`); n != 6000 {
		t.Fatalf("%d distinct ids in the table, want 6000", n)
	}
	if n := pgCount(t, pg.dsn(), `SELECT count(*) FROM clicks`); n != 6000 {
		t.Fatalf("%d rows, want 6000", n)
	}
	if n := pgCount(t, pg.dsn(), `SELECT count(*) FROM clicks c JOIN `+checkpointTable+` k
		ON k.shard_id = c.shard_id AND k.sequence_number = c.sequence_number AND k.app = 'deliver'`); n != 2 {
		t.Fatalf("%d shards whose checkpoint row names their last row, want 2", n)
	}
}

// A batch the destination already took (its checkpoint row is past it) is
// skipped, not loaded again — the case of a crash after PostgreSQL
// committed and before the stream's checkpoint was written.
func TestPostgresSkipsWhatItHasAndMapsColumns(t *testing.T) {
	pg := startPostgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id bigint, "user" text, seq numeric, nested text)`); err != nil {
		t.Fatal(err)
	}
	dest, err := NewPostgres(ctx, pg.dsn(), DestinationOptions{Table: "orders", App: "a", Columns: `id=id, user=user, seq=$sequenceNumber, nested=a.b`})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	recs := []consumers.UserRecord{
		{Record: engineRecord("10", `{"id":1,"user":"ann","a":{"b":[1,2]}}`)},
		{Record: engineRecord("11", `{"id":2,"user":"bo"}`)},
		{Record: engineRecord("12", `{"id":3,"user":"cy, \"the\" 3rd"}`)},
	}
	b := Batch{Stream: "s", ShardID: "shardId-000000000000", Records: recs[:2]}
	if res, err := dest.Deliver(ctx, b); err != nil || res.Rows != 2 {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	b.Records = recs // the repeat, grown by one record
	if res, err := dest.Deliver(ctx, b); err != nil || res.Rows != 1 || res.Skipped != 2 {
		t.Fatalf("repeat: %+v, %v; want 1 row and 2 skipped", res, err)
	}
	var nested, user3 string
	if err := conn.QueryRow(ctx, `SELECT (SELECT nested FROM orders WHERE id = 1), (SELECT "user" FROM orders WHERE seq = 12)`).Scan(&nested, &user3); err != nil {
		t.Fatal(err)
	}
	if nested != "[1,2]" || user3 != `cy, "the" 3rd` {
		t.Fatalf("nested %q, user %q", nested, user3)
	}
	if _, err := NewPostgres(ctx, pg.dsn(), DestinationOptions{Table: "orders", App: "a", Columns: "id=$bogus"}); err == nil || !strings.Contains(err.Error(), "unknown source") {
		t.Fatalf("bad mapping: %v", err)
	}
	missing, err := NewPostgres(ctx, pg.dsn(), DestinationOptions{Table: "nope", App: "other", Columns: "id=id"})
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	if _, err := missing.Deliver(ctx, b); err == nil || !strings.Contains(err.Error(), "create the table") {
		t.Fatalf("missing table: %v", err)
	}
}
