package remote

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	apiremote "github.com/shardscope/shardscope/api/remote"
	"github.com/shardscope/shardscope/api/remote/remotetest"
)

// TestLoadHelper is not a test: BenchmarkAttachCPU runs the test binary
// again with SHARDSCOPE_LOAD_URL set, so that the load is written from
// another process and the benchmark's CPU is the console backend's alone.
func TestLoadHelper(t *testing.T) {
	url := os.Getenv("SHARDSCOPE_LOAD_URL")
	if url == "" {
		t.Skip("the load process of BenchmarkAttachCPU")
	}
	rate, _ := strconv.Atoi(os.Getenv("SHARDSCOPE_LOAD_RATE"))
	sdk := remotetest.SDK(url)
	payload := make([]byte, 200)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		<-tick.C
		var entries []types.PutRecordsRequestEntry
		for j := range rate / 10 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d-%d", i, j)), Data: payload})
		}
		for len(entries) > 0 {
			k := min(500, len(entries))
			_, _ = sdk.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("load"), Records: entries[:k]})
			entries = entries[k:]
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAttachCPU attaches the console backend to shardscope serve
// with 64 shards while another process writes 3,200 records/s of 200 B
// into them, reads the backend as the console does (five ticks a second),
// and reports the backend's CPU share of one core and the GetRecords it
// made per shard and second (its budget is 1).
//
//	go test -run '^$' -bench AttachCPU -benchtime 1x ./ui/remote/
func BenchmarkAttachCPU(b *testing.B) {
	const shards, rate, span = 64, 3200, 10 * time.Second
	url := remotetest.Serve(b)
	sdk := remotetest.SDK(url)
	remotetest.CreateStream(b, sdk, "load", shards)
	load := exec.Command(os.Args[0], "-test.run", "^TestLoadHelper$")
	load.Env = append(os.Environ(), "SHARDSCOPE_LOAD_URL="+url, "SHARDSCOPE_LOAD_RATE="+strconv.Itoa(rate))
	if err := load.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = load.Process.Kill(); _ = load.Wait() }()

	var cpu, el time.Duration
	var reads, records int64
	for i := 0; i < b.N; i++ {
		bk := New(remotetest.Remote(url, apiremote.Options{}), Config{Stream: "load"})
		if err := bk.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		remotetest.Eventually(b, "all shards read", 30*time.Second, func() bool { return bk.Consumers()[0].ShardsDone == shards })
		calls0, _ := bk.c.Calls()
		recs0 := bk.Consumers()[0].Records
		start, c0 := time.Now(), processCPU()
		tick := time.NewTicker(200 * time.Millisecond)
		for time.Since(start) < span {
			<-tick.C
			_ = bk.Snapshot()
			_ = bk.DrainFeed(nil)
			_ = bk.Consumers()
			_ = bk.Attachment()
		}
		tick.Stop()
		cpu += processCPU() - c0
		el += time.Since(start)
		calls1, _ := bk.c.Calls()
		reads += calls1 - calls0
		records += bk.Consumers()[0].Records - recs0
		bk.Stop()
	}
	b.ReportMetric(100*cpu.Seconds()/el.Seconds(), "cpu-%")
	// Calls beyond GetRecords (a listing every 10 s) are counted too: an
	// upper bound.
	b.ReportMetric(float64(reads)/el.Seconds()/shards, "calls/s/shard")
	b.ReportMetric(float64(records)/el.Seconds(), "records/s")
}
