package storage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const envCrashStore = "SHARDSCOPE_STORAGE_CRASH_STORE"

// envCrashBig makes the crash writer append 500 records of 8 KiB per call
// from 8 writers: every frame is at least 4 MiB, segments rotate every
// frame or two and are recycled.
const envCrashBig = "SHARDSCOPE_STORAGE_CRASH_BIG"

// crashShape says what the crash writer writes.
type crashShape struct {
	shards int
	batch  func(rng *rand.Rand) int
	record func(shard uint32, pos uint64) Record
}

var (
	smallCrash = crashShape{shards: 4, batch: func(rng *rand.Rand) int { return 1 + rng.IntN(64) }, record: testRecord}
	bigCrash   = crashShape{shards: 8, batch: func(*rand.Rand) int { return 500 }, record: bigRecord}
)

// bigRecord is testRecord with 8 KiB of data, byte i being
// byte(pos*13 + shard*3 + i): a copy out of bigPattern, cheap under -race.
func bigRecord(shard uint32, pos uint64) Record {
	r := testRecord(shard, pos)
	off := (pos*13 + uint64(shard)*3) % 256
	r.Data = append([]byte(nil), bigPattern[off:off+8<<10]...)
	return r
}

var bigPattern = func() []byte {
	b := make([]byte, 8<<10+256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// TestHelperCrashWriter is not a test: the crash tests run the test binary
// again with only this. It appends to its shards as fast as it can, with
// fsync, continuing after what the store holds, and prints
// "ack <shard> <last position> $" only after Append returned nil, until
// the parent kills it.
func TestHelperCrashWriter(t *testing.T) {
	path := os.Getenv(envCrashStore)
	if path == "" {
		t.Skip("helper process only")
	}
	shape := smallCrash
	if os.Getenv(envCrashBig) != "" {
		shape = bigCrash
	}
	db, err := Open(path, Options{Sync: SyncAlways})
	if err != nil {
		fmt.Fprintf(os.Stdout, "error %v\n", err)
		os.Exit(2)
	}
	var out sync.Mutex
	fmt.Fprintln(os.Stdout, "ready")
	deadline := time.Now().Add(60 * time.Second) // an orphan stops by itself
	var wg sync.WaitGroup
	for shard := range uint32(shape.shards) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(shard), uint64(time.Now().UnixNano())))
			var next uint64
			if _, last, ok, err := db.Bounds(ShardRef{"crash", shard}); err != nil {
				fmt.Fprintf(os.Stdout, "error %v\n", err)
				os.Exit(2)
			} else if ok {
				next = last + 1
			}
			for time.Now().Before(deadline) {
				n := shape.batch(rng)
				recs := make([]Record, n)
				for i := range recs {
					recs[i] = shape.record(shard, next+uint64(i))
				}
				if err := db.Append(context.Background(), []Append{{Shard: ShardRef{"crash", shard}, Records: recs}}); err != nil {
					fmt.Fprintf(os.Stdout, "error %v\n", err)
					os.Exit(2)
				}
				next += uint64(n)
				out.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %d $\n", shard, next-1) // os.Stdout is unbuffered
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	db.Close()
	os.Exit(0)
}

// TestCrashRecovery kills a writer with SIGKILL at a random moment and
// checks that every acknowledged record survived, with no gap, duplicate or
// damage, and that the file and its stats are consistent.
func TestCrashRecovery(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := range rounds {
		delay := time.Duration(20+rng.IntN(281)) * time.Millisecond
		t.Run(fmt.Sprintf("round%02d", round), func(t *testing.T) {
			crashRound(t, delay)
		})
		if t.Failed() {
			return
		}
	}
}

// TestCrashRecoveryBigFrames is TestCrashRecovery with group commits of
// at least 4 MiB: segments fill in a frame or two and are recycled.
func TestCrashRecoveryBigFrames(t *testing.T) {
	rounds := 3 // bounded: about 20 s under -race on a busy 2-core machine
	if testing.Short() {
		rounds = 1
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	for round := range rounds {
		// Counted in appends, not time: the disk sets the pace.
		acks, delay := 2+rng.IntN(9), time.Duration(rng.IntN(30))*time.Millisecond
		t.Run(fmt.Sprintf("round%02d", round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crash.db")
			acked := killWriter(t, path, bigCrash, acks, delay)
			verifyCrash(t, path, bigCrash, acked, delay)
		})
		if t.Failed() {
			return
		}
	}
}

// TestCrashDuringRecovery kills a writer of big frames, restarts it on the
// same store and kills it again 60-150 ms after the restart, while Open
// replays the log (or just after); every acknowledged record of both runs
// must survive.
func TestCrashDuringRecovery(t *testing.T) {
	rounds := 3 // bounded: about 20 s under -race on a busy 2-core machine
	if testing.Short() {
		rounds = 1
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	for round := range rounds {
		acks, first := 2+rng.IntN(9), time.Duration(rng.IntN(30))*time.Millisecond
		second := time.Duration(60+rng.IntN(91)) * time.Millisecond
		t.Run(fmt.Sprintf("round%02d", round), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crash.db")
			acked := killWriter(t, path, bigCrash, acks, first)
			// A kill rarely tears a write (the kernel finishes it); power
			// loss does. Give the newest segment a torn last frame.
			tearNewestSegment(t, path)
			for shard, last := range killWriter(t, path, bigCrash, -1, second) {
				if prev, ok := acked[shard]; ok && last <= prev {
					t.Fatalf("shard %d: the restarted writer acknowledged %d, not after %d", shard, last, prev)
				}
				acked[shard] = last
			}
			verifyCrash(t, path, bigCrash, acked, first+second)
		})
		if t.Failed() {
			return
		}
	}
}

func crashRound(t *testing.T, delay time.Duration) {
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := killWriter(t, path, smallCrash, 0, delay)
	verifyCrash(t, path, smallCrash, acked, delay)
}

// killWriter starts the crash writer on path and kills it with SIGKILL:
// delay after it opened the store and acknowledged afterAcks appends, or
// with afterAcks < 0 delay after the process started (which can land
// inside Open). It returns the last position acknowledged per shard.
func killWriter(t *testing.T, path string, shape crashShape, afterAcks int, delay time.Duration) map[uint32]uint64 {
	t.Helper()
	env := []string{envCrashStore + "=" + path}
	if shape.shards == bigCrash.shards {
		env = append(env, envCrashBig+"=1")
	}
	cmd, _, lines := startHelper(t, "TestHelperCrashWriter", env...)
	acked := make(map[uint32]uint64)
	acks, ready := 0, afterAcks < 0
	take := func(l string) {
		if l == "ready" {
			ready = true
			return
		}
		var shard uint32
		var last uint64
		var end string
		if _, err := fmt.Sscanf(l, "ack %d %d %s", &shard, &last, &end); err != nil || end != "$" {
			if strings.HasPrefix(l, "error") {
				t.Fatalf("writer: %s", l)
			}
			return // a line the kill cut short
		}
		if prev, ok := acked[shard]; ok && last <= prev {
			t.Fatalf("shard %d acknowledged %d after %d", shard, last, prev)
		}
		acked[shard] = last
		acks++
	}
	timeout := time.After(60 * time.Second)
	for !ready || acks < afterAcks {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("writer exited after %d acknowledgements", acks)
			}
			take(l)
		case <-timeout:
			t.Fatalf("only %d acknowledgements after 60s", acks)
		}
	}
	time.Sleep(delay) // the crash moment itself: random on purpose
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for l := range lines { // closed at EOF: the pipe keeps what was written
		take(l)
	}
	return acked
}

// verifyCrash opens the store and checks that every acknowledged record
// survived, with no gap, duplicate or damage, and that the file and its
// stats are consistent.
func verifyCrash(t *testing.T, path string, shape crashShape, acked map[uint32]uint64, delay time.Duration) {
	t.Helper()
	db := openAt(t, path, Options{})
	total := 0
	for shard := range uint32(shape.shards) {
		s := ShardRef{"crash", shard}
		got := readAll(t, db, s)
		for i, r := range got {
			if r.Position != uint64(i) {
				t.Fatalf("%s: record %d has position %d: gap or duplicate", s, i, r.Position)
			}
			if want := shape.record(shard, r.Position); !sameRecord(r, want) {
				t.Fatalf("%s: record %d damaged", s, i)
			}
		}
		if last, ok := acked[shard]; ok && (len(got) == 0 || uint64(len(got)-1) < last) {
			t.Fatalf("%s: acknowledged up to %d but only %d records survived", s, last, len(got))
		}
		var bytes int64
		for _, r := range got {
			bytes += int64(len(r.Data) + len(r.PartitionKey))
		}
		if n, b, err := db.Stats(s); err != nil || n != int64(len(got)) || b != bytes {
			t.Fatalf("%s: Stats = %d, %d, %v; records hold %d, %d", s, n, b, err, len(got), bytes)
		}
		total += len(got)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	acks := uint64(0)
	for _, last := range acked {
		acks += last + 1
	}
	t.Logf("killed after %v: %d records acknowledged, %d survived", delay, acks, total)
}

// tearNewestSegment appends the first half of a frame of the newest log
// segment to it, as a write cut short by power loss leaves it.
func tearNewestSegment(t *testing.T, path string) {
	t.Helper()
	segs, err := listSegments(path)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v, %v", segs, err)
	}
	seg := segs[len(segs)-1]
	it := encodedAppend{ref: ShardRef{"crash", 0}, pos: []uint64{1 << 40}}
	r := bigRecord(0, 1<<40)
	v, err := encodeValue(identityCodec{}, &r, nil, ShardRef{})
	if err != nil {
		t.Fatal(err)
	}
	it.vals = [][]byte{v}
	data, err := os.ReadFile(segmentPath(path, seg))
	if err != nil {
		t.Fatal(err)
	}
	// The frame must carry the segment's salt, or replay would take it for
	// bytes a recycled file held before, not for a torn write.
	salt, ok := parseSegmentHeader(data, seg)
	if !ok {
		// The kill landed between creating the segment and its header
		// reaching it: a crash state of its own, with no frame to tear.
		t.Logf("segment %d has no header yet (%d bytes); left as the kill left it", seg, len(data))
		return
	}
	frame := appendFrame(nil, seg, salt, []*appendReq{{items: []encodedAppend{it}}})
	f, err := os.OpenFile(segmentPath(path, seg), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(frame[:len(frame)/2]); err != nil {
		t.Fatal(err)
	}
}
