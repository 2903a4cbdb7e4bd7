package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shardscope/shardscope/engine/kms"
	"github.com/shardscope/shardscope/storage"
	bolt "go.etcd.io/bbolt"
)

func (env *testEnv) startEnc(stream, keyID string) {
	env.t.Helper()
	if err := env.e.StartStreamEncryption(ctx, StreamEncryptionInput{StreamRef: StreamRef{StreamName: stream}, EncryptionType: EncryptionKMS, KeyID: keyID}); err != nil {
		env.t.Fatalf("start encryption with %s: %v", keyID, err)
	}
}

// readShard0 reads a one-shard stream from the start, failing the test on
// any error.
func (env *testEnv) readShard0(stream string) []Record {
	env.t.Helper()
	recs, _, _ := env.readAll(env.iter(stream, "shardId-000000000000", TrimHorizon, "", time.Time{}))
	return recs
}

func (env *testEnv) getShard0(stream string) ([]Record, error) {
	it := env.iter(stream, "shardId-000000000000", TrimHorizon, "", time.Time{})
	out, err := env.e.GetRecords(ctx, GetRecordsInput{ShardIterator: it})
	return out.Records, err
}

// Records written while encryption is on come back in clear and marked KMS;
// those before and after are NONE; all survive a restart; replies and
// descriptions say KMS and the KeyId as given.
func TestEncryptionLifecycle(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	if out := env.put("s", "k", "before"); out.EncryptionType != EncryptionNone {
		t.Fatalf("put before: EncryptionType %q", out.EncryptionType)
	}
	env.startEnc("s", kms.ManagedAlias)
	sum, err := env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"})
	if err != nil || sum.EncryptionType != EncryptionKMS || sum.KeyID != kms.ManagedAlias {
		t.Fatalf("summary = %q %q, %v; want KMS %s", sum.EncryptionType, sum.KeyID, err, kms.ManagedAlias)
	}
	if d, err := env.e.DescribeStream(ctx, DescribeStreamInput{StreamRef: StreamRef{StreamName: "s"}}); err != nil || d.EncryptionType != EncryptionKMS || d.KeyID != kms.ManagedAlias {
		t.Fatalf("describe = %q %q, %v", d.EncryptionType, d.KeyID, err)
	}
	if out := env.put("s", "k", "during-1"); out.EncryptionType != EncryptionKMS {
		t.Fatalf("put during: EncryptionType %q", out.EncryptionType)
	}
	pr, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: StreamRef{StreamName: "s"}, Records: []PutRecordsEntry{
		{PartitionKey: "k", Data: []byte("during-2")}, {PartitionKey: "k", ExplicitHashKey: "7", Data: []byte("during-3")}}})
	if err != nil || pr.FailedRecordCount != 0 || pr.EncryptionType != EncryptionKMS {
		t.Fatalf("PutRecords = %+v, %v", pr, err)
	}
	if fi, err := os.Stat(kms.PathFor(env.path)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyring file: %v, %v; want mode 0600", fi, err)
	}
	env.reopen()
	if out := env.put("s", "k", "during-4"); out.EncryptionType != EncryptionKMS {
		t.Fatalf("put after restart: EncryptionType %q", out.EncryptionType)
	}
	if err := env.e.StopStreamEncryption(ctx, StreamEncryptionInput{StreamRef: StreamRef{StreamName: "s"}, EncryptionType: EncryptionKMS, KeyID: kms.ManagedAlias}); err != nil {
		t.Fatal(err)
	}
	if out := env.put("s", "k", "after"); out.EncryptionType != EncryptionNone {
		t.Fatalf("put after stop: EncryptionType %q", out.EncryptionType)
	}
	sum, _ = env.e.DescribeStreamSummary(ctx, StreamRef{StreamName: "s"})
	if sum.EncryptionType != EncryptionNone || sum.KeyID != "" {
		t.Fatalf("summary after stop = %q %q", sum.EncryptionType, sum.KeyID)
	}
	env.reopen()
	want := []struct{ data, enc, ehk string }{
		{"before", "NONE", ""}, {"during-1", "KMS", ""}, {"during-2", "KMS", ""}, {"during-3", "KMS", "7"}, {"during-4", "KMS", ""}, {"after", "NONE", ""},
	}
	got := env.readShard0("s")
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		if string(got[i].Data) != w.data || got[i].EncryptionType != w.enc || got[i].PartitionKey != "k" || got[i].ExplicitHashKey != w.ehk {
			t.Errorf("record %d = %q %s pk %q ehk %q; want %q %s", i, got[i].Data, got[i].EncryptionType, got[i].PartitionKey, got[i].ExplicitHashKey, w.data, w.enc)
		}
	}
}

// storeFiles returns the bbolt file and every write-ahead-log segment.
func storeFiles(t *testing.T, path string) []string {
	t.Helper()
	segs, err := filepath.Glob(path + ".wal.*")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{path}, segs...)
}

// grepFiles reports which files hold needle.
func grepFiles(t *testing.T, files []string, needle []byte) []string {
	t.Helper()
	var hits []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, needle) {
			hits = append(hits, filepath.Base(f))
		}
	}
	return hits
}

// The proof of encryption at rest: known plaintext written to an encrypted
// stream is in neither the write-ahead log (read while the store is open,
// before any checkpoint) nor the bbolt file (after a clean close has
// checkpointed everything), while the same text in a clear stream is found
// in both — so the search itself works.
func TestEncryptedStoreHoldsNoPlaintext(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("secret", 2)
	env.create("plain", 1)
	env.startEnc("secret", kms.ManagedAlias)
	secret := []byte("SECRET-PAYLOAD-d4e1f")
	secretKey := "SECRET-PARTITION-KEY-77a0"
	clearText := []byte("CLEAR-PAYLOAD-9b2c1")
	for i := range 200 {
		data := append(append([]byte{}, secret...), byte('a'+i%26))
		if _, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "secret"}, PartitionKey: secretKey + key(i), Data: data}); err != nil {
			t.Fatal(err)
		}
		env.put("plain", key(i), string(clearText))
	}
	files := storeFiles(t, env.path)
	if len(files) < 2 {
		t.Fatalf("no write-ahead-log segment beside the store: %v", files)
	}
	if hits := grepFiles(t, files[1:], clearText); len(hits) == 0 {
		t.Fatal("the clear stream's records are not in the log: the search proves nothing")
	}
	for _, needle := range [][]byte{secret, []byte(secretKey)} {
		if hits := grepFiles(t, files, needle); len(hits) > 0 {
			t.Fatalf("%q found in clear in %v while the store is open", needle, hits)
		}
	}
	env.close()
	files = storeFiles(t, env.path)
	if hits := grepFiles(t, files[:1], clearText); len(hits) == 0 {
		t.Fatal("the clear stream's records are not in the bbolt file after close: the search proves nothing")
	}
	for _, needle := range [][]byte{secret, []byte(secretKey)} {
		if hits := grepFiles(t, files, needle); len(hits) > 0 {
			t.Fatalf("%q found in clear in %v after close", needle, hits)
		}
	}
	env.open()
	for _, sh := range env.shards("secret") {
		recs, _, _ := env.readAll(env.iter("secret", sh.ShardID, TrimHorizon, "", time.Time{}))
		for _, r := range recs {
			if !bytes.HasPrefix(r.Data, secret) || !strings.HasPrefix(r.PartitionKey, secretKey) || r.EncryptionType != EncryptionKMS {
				t.Fatalf("record read back as %q %q %s", r.Data, r.PartitionKey, r.EncryptionType)
			}
		}
	}
}

// sealedValue returns the stored value of the shard-0 record at pos of a
// closed store, straight from bbolt.
func sealedValue(t *testing.T, path, stream string, pos uint64) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("records")).Bucket([]byte(stream)).Bucket([]byte{0, 0, 0, 0})
		v = append(v, b.Get(binary.BigEndian.AppendUint64(nil, pos))...)
		return nil
	})
	if err != nil || len(v) == 0 {
		t.Fatalf("record %d not in the file: %v", pos, err)
	}
	return v
}

// putValue stores v under pos with its checksum recomputed (storage's
// documented layout: CRC-32C of v[5:], the key, then the sealed tag), as a
// tamperer who knows the format would.
func putValue(t *testing.T, path, stream string, pos uint64, v []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := binary.BigEndian.AppendUint64(nil, pos)
	tab := crc32.MakeTable(crc32.Castagnoli)
	crc := crc32.Update(crc32.Update(crc32.Update(0, tab, v[5:]), tab, k), tab, v[:1])
	v = append([]byte(nil), v...)
	binary.BigEndian.PutUint32(v[1:], crc)
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("records")).Bucket([]byte(stream)).Bucket([]byte{0, 0, 0, 0}).Put(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// One byte changed in a sealed record on disk makes its read fail with an
// error naming the record, never return other data — whether the checksum
// catches it or (recomputed by a tamperer) AES-GCM does; and a sealed
// record copied to another position fails to open there.
func TestSealedRecordTamperFails(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fixup bool // recompute the checksum, so only GCM stands guard
		move  bool // copy record 2 over record 3 instead of flipping a byte
	}{{"flip", false, false}, {"flip-crc-fixed", true, false}, {"moved", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, Options{DisableLimits: true})
			env.create("s", 1)
			env.startEnc("s", kms.ManagedAlias)
			for i := range 5 {
				env.put("s", key(i), "sealed-record-"+key(i))
			}
			path := env.path
			env.e.Close()
			env.db.Close()
			env.e = nil
			v := sealedValue(t, path, "s", 3)
			if v[0] != 0x69 {
				t.Fatalf("record 3 is not a sealed value: %x", v[:1])
			}
			switch {
			case tc.move:
				putValue(t, path, "s", 3, sealedValue(t, path, "s", 2))
			case tc.fixup:
				v[len(v)-25] ^= 0x01 // in the ciphertext (before the tag and the epoch)
				putValue(t, path, "s", 3, v)
			default:
				file, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				i := bytes.Index(file, v)
				if i < 0 {
					t.Fatal("record not found in the file")
				}
				file[i+len(v)-25] ^= 0x01
				if err := os.WriteFile(path, file, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			db, err := storage.Open(path, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			e, err := New(db, Options{DisableLimits: true, Clock: env.clock, RetentionInterval: -1, ScaleInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			env.e = e
			defer func() { env.e = nil }()
			// A record before the damaged one reads; reading past it fails.
			it := env.iter("s", "shardId-000000000000", TrimHorizon, "", time.Time{})
			out, err := e.GetRecords(ctx, GetRecordsInput{ShardIterator: it, Limit: 1})
			if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != "sealed-record-key-0" {
				t.Fatalf("first record: %+v, %v", out.Records, err)
			}
			out, err = e.GetRecords(ctx, GetRecordsInput{ShardIterator: out.NextShardIterator})
			wantCode(t, err, InternalFailure)
			var de *storage.DamageError
			if !errors.As(err, &de) || de.Position != 3 || len(out.Records) != 0 {
				t.Fatalf("GetRecords = %d records, %v; want an error naming position 3", len(out.Records), err)
			}
			t.Logf("%v: %v", err, errors.Unwrap(err))
		})
	}
}

// A disabled, pending-deletion or deleted key fails writes and reads with
// the service's errors; enabling it again restores both; rotation keeps
// every record readable.
func TestKeyStatesAndRotation(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	// Records must outlive the key's 7-day deletion window.
	if err := env.e.IncreaseStreamRetentionPeriod(ctx, RetentionInput{StreamRef: StreamRef{StreamName: "s"}, RetentionPeriodHours: MaxRetentionHours}); err != nil {
		t.Fatal(err)
	}
	kr := env.e.Keyring()
	k, err := kr.Create("test key")
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.SetAlias("alias/orders", k.ID); err != nil {
		t.Fatal(err)
	}
	ref := StreamRef{StreamName: "s"}
	start := func(keyID string) error {
		return env.e.StartStreamEncryption(ctx, StreamEncryptionInput{StreamRef: ref, EncryptionType: EncryptionKMS, KeyID: keyID})
	}
	wantCode(t, start("alias/missing"), KMSNotFoundException)
	wantCode(t, start("arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-000000000000"), KMSNotFoundException)
	wantCode(t, start("arn:aws:kms:eu-west-1:000000000000:alias/orders"), KMSNotFoundException)
	for _, id := range []string{k.ID, k.ARN, "alias/orders", "arn:aws:kms:us-east-1:000000000000:alias/orders"} {
		if err := start(id); err != nil {
			t.Fatalf("start with %s: %v", id, err)
		}
	}
	env.put("s", "k", "v0")
	if err := kr.Rotate("alias/orders"); err != nil {
		t.Fatal(err)
	}
	env.put("s", "k", "v1")
	if err := kr.Rotate(k.ID); err != nil {
		t.Fatal(err)
	}
	env.put("s", "k", "v2")
	list, err := kr.List()
	if err != nil || len(list) != 1 || len(list[0].Rotations) != 2 || list[0].Aliases[0] != "alias/orders" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if got := env.readShard0("s"); len(got) != 3 || string(got[0].Data) != "v0" || string(got[2].Data) != "v2" {
		t.Fatalf("after rotations: %+v", got)
	}

	putErr := func() error {
		_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: ref, PartitionKey: "k", Data: []byte("x")})
		return err
	}
	if err := kr.Disable("alias/orders"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, putErr(), KMSDisabledException)
	_, err = env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: []PutRecordsEntry{{PartitionKey: "k", Data: []byte("x")}}})
	wantCode(t, err, KMSDisabledException)
	_, err = env.getShard0("s")
	wantCode(t, err, KMSDisabledException)
	wantCode(t, start(k.ID), KMSDisabledException)
	// A disabled key does not keep the engine from starting: only the
	// records it sealed fail.
	env.reopen()
	kr = env.e.Keyring()
	_, err = env.getShard0("s")
	wantCode(t, err, KMSDisabledException)
	if err := kr.Enable(k.ARN); err != nil {
		t.Fatal(err)
	}
	if recs, err := env.getShard0("s"); err != nil || len(recs) != 3 {
		t.Fatalf("after enable: %d records, %v", len(recs), err)
	}

	if _, err := kr.ScheduleDeletion(k.ID, 3); kms.KindOf(err) != kms.KindInvalid {
		t.Fatalf("deletion in 3 days: %v", err)
	}
	if _, err := kr.ScheduleDeletion(k.ID, 7); err != nil {
		t.Fatal(err)
	}
	wantCode(t, putErr(), KMSInvalidStateException)
	_, err = env.getShard0("s")
	wantCode(t, err, KMSInvalidStateException)
	env.clock.Advance(7*24*time.Hour + time.Second)
	_, err = env.getShard0("s")
	wantCode(t, err, KMSAccessDeniedException)
	wantCode(t, putErr(), KMSNotFoundException)
	t.Log(err)
}

// A change made by another process (`shardscope keys disable`) reaches a
// running engine within a second or so.
func TestKeyringChangeFromAnotherProcess(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 1)
	k, err := env.e.Keyring().Create("")
	if err != nil {
		t.Fatal(err)
	}
	env.startEnc("s", k.ID)
	env.put("s", "k", "v")
	other, err := kms.Open(kms.PathFor(env.path), kms.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Disable(k.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := env.e.PutRecord(ctx, PutRecordInput{StreamRef: StreamRef{StreamName: "s"}, PartitionKey: "k", Data: []byte("x")})
		if IsCode(err, KMSDisabledException) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("put after another process disabled the key: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start and Stop validate like the service and count toward the 25 changes
// a rolling day allows.
func TestEncryptionValidation(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true, UpdateDelay: time.Second})
	env.create("s", 1)
	ref := StreamRef{StreamName: "s"}
	call := func(start bool, typ, keyID string) error {
		in := StreamEncryptionInput{StreamRef: ref, EncryptionType: typ, KeyID: keyID}
		if start {
			return env.e.StartStreamEncryption(ctx, in)
		}
		return env.e.StopStreamEncryption(ctx, in)
	}
	wantCode(t, call(true, "", kms.ManagedAlias), ValidationException)
	wantCode(t, call(true, "KMS", ""), ValidationException)
	wantCode(t, call(true, "AES", kms.ManagedAlias), ValidationException)
	wantCode(t, call(true, "KMS", strings.Repeat("k", 2049)), ValidationException)
	wantCode(t, call(true, "NONE", kms.ManagedAlias), InvalidArgumentException)
	wantCode(t, call(false, "KMS", ""), ValidationException)
	wantCode(t, env.e.StartStreamEncryption(ctx, StreamEncryptionInput{StreamRef: StreamRef{StreamName: "nope"}, EncryptionType: "KMS", KeyID: kms.ManagedAlias}), ResourceNotFoundException)
	if err := call(true, "KMS", kms.ManagedAlias); err != nil {
		t.Fatal(err)
	}
	// UPDATING for a second: the next change is refused.
	wantCode(t, call(false, "KMS", kms.ManagedAlias), ResourceInUseException)
	env.clock.Advance(time.Second)
	wantCode(t, call(false, "KMS", "alias/other"), InvalidArgumentException)
	for i := 1; i < MaxEncryptionChanges; i++ {
		if err := call(i%2 == 0, "KMS", kms.ManagedAlias); err != nil {
			t.Fatalf("change %d: %v", i+1, err)
		}
		env.clock.Advance(time.Second)
	}
	wantCode(t, call(true, "KMS", kms.ManagedAlias), LimitExceededException)
	env.clock.Advance(24 * time.Hour)
	if err := call(true, "KMS", kms.ManagedAlias); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkPutRecordsEncryption compares PutRecords of 500 records with
// encryption off and on, in the same run, with fsync on (as
// BenchmarkPutRecords500) and off (where the CPU, so the sealing, counts
// most). Timed to the end of the final checkpoint.
//
//	go test -run '^$' -bench PutRecordsEncryption -benchtime 2000x -count 3 ./engine/
func BenchmarkPutRecordsEncryption(b *testing.B) {
	for _, sync := range []storage.SyncMode{storage.SyncAlways, storage.SyncNone} {
		for _, size := range []int{100, 1024} {
			for _, enc := range []string{EncryptionNone, EncryptionKMS} {
				b.Run(fmt.Sprintf("sync=%s/size=%d/enc=%s", sync, size, enc), func(b *testing.B) {
					e, done := benchEnv(b, sync, 4)
					if enc == EncryptionKMS {
						if err := e.StartStreamEncryption(ctx, StreamEncryptionInput{StreamRef: StreamRef{StreamName: "bench"}, EncryptionType: EncryptionKMS, KeyID: kms.ManagedAlias}); err != nil {
							b.Fatal(err)
						}
					}
					batch := batchOf(500, size, 0)
					cpu0 := cpuTime()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						out, err := e.PutRecords(ctx, PutRecordsInput{StreamRef: StreamRef{StreamName: "bench"}, Records: batch})
						if err != nil || out.FailedRecordCount != 0 || out.EncryptionType != enc {
							b.Fatal(err, out.FailedRecordCount, out.EncryptionType)
						}
					}
					done()
					b.StopTimer()
					reportRate(b, b.N*500, size)
					// CPU time spent by the whole process (the writer, the
					// committer, the checkpointer, the collector) per record:
					// what the rate on an idle machine is bound by, and far
					// less disturbed by other load than the rate.
					b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*500), "cpu-ns/rec")
				})
			}
		}
	}
}

// BenchmarkSealRecord is the CPU cost of sealing one record's body
// (AES-256-GCM through Go's crypto, with its associated data).
func BenchmarkSealRecord(b *testing.B) {
	d := &dataKey{meta: dataKeyMeta{Epoch: 3}, stream: "bench", created: 1, aead: newGCM(make([]byte, 32))}
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			body := make([]byte, size+10)
			dst := make([]byte, 0, size+64)
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				if _, err := d.Seal(dst, storage.ShardRef{Stream: "bench", Shard: 1}, uint64(i), 1, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Writers racing Start, Stop and key rotations: every record reads back
// as written, marked as its PutRecords reply said, across a restart.
func TestEncryptionChangesUnderConcurrentWrites(t *testing.T) {
	env := newEnv(t, Options{DisableLimits: true})
	env.create("s", 2)
	kr := env.e.Keyring()
	k, err := kr.Create("")
	if err != nil {
		t.Fatal(err)
	}
	ref := StreamRef{StreamName: "s"}
	type sent struct{ data, enc string }
	var mu sync.Mutex
	want := map[string]sent{} // by sequence number
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				batch := []PutRecordsEntry{{PartitionKey: fmt.Sprintf("w%d-%d", w, i), Data: []byte(fmt.Sprintf("w%d-%d-a", w, i))},
					{PartitionKey: fmt.Sprintf("x%d-%d", w, i), Data: []byte(fmt.Sprintf("w%d-%d-b", w, i))}}
				out, err := env.e.PutRecords(ctx, PutRecordsInput{StreamRef: ref, Records: batch})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for j, r := range out.Records {
					want[r.SequenceNumber] = sent{string(batch[j].Data), out.EncryptionType}
				}
				mu.Unlock()
			}
		}()
	}
	written := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(want)
	}
	for i := range 20 {
		// Let the writers get some records in under each setting.
		deadline := time.Now().Add(10 * time.Second)
		for n := written(); written() < n+40; {
			if time.Now().After(deadline) {
				t.Fatal("writers made no progress")
			}
			time.Sleep(time.Millisecond)
		}
		var err error
		switch i % 4 {
		case 0:
			err = env.e.StartStreamEncryption(ctx, StreamEncryptionInput{StreamRef: ref, EncryptionType: EncryptionKMS, KeyID: k.ID})
		case 1, 3:
			err = kr.Rotate(k.ID)
		case 2:
			err = env.e.StopStreamEncryption(ctx, StreamEncryptionInput{StreamRef: ref, EncryptionType: EncryptionKMS, KeyID: k.ARN})
		}
		if err != nil {
			t.Fatal(err)
		}
		env.clock.Advance(time.Hour) // past the 25-per-day quota's reach
	}
	close(stop)
	wg.Wait()
	env.reopen()
	got := 0
	for _, sh := range env.shards("s") {
		recs, _, _ := env.readAll(env.iter("s", sh.ShardID, TrimHorizon, "", time.Time{}))
		for _, r := range recs {
			w, ok := want[r.SequenceNumber]
			if !ok || w.data != string(r.Data) || w.enc != r.EncryptionType {
				t.Fatalf("record %s = %q %s, want %+v", r.SequenceNumber, r.Data, r.EncryptionType, w)
			}
			got++
		}
	}
	if got != len(want) || got == 0 {
		t.Fatalf("read %d records, wrote %d", got, len(want))
	}
}
