package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const envHoldLock = "SHARDSCOPE_STORAGE_HOLD_LOCK"

// TestHelperHoldLock is not a test: TestLockedFile runs the test binary
// again with only this, to hold the store open from another process.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv(envHoldLock)
	if path == "" {
		t.Skip("helper process only")
	}
	db, err := Open(path, Options{})
	if err != nil {
		os.Stdout.WriteString("error " + err.Error() + "\n")
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	io.Copy(io.Discard, os.Stdin) // until the parent closes our stdin
	db.Close()
	os.Exit(0)
}

// startHelper re-executes the test binary running only the named helper.
func startHelper(t *testing.T, name string, env ...string) (cmd *exec.Cmd, stdin io.WriteCloser, lines <-chan string) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("helper stderr:\n%s", stderr.String())
		}
	})
	return cmd, stdin, ch
}

// awaitReady waits for the helper's "ready" line.
func awaitReady(t *testing.T, lines <-chan string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("helper exited before it was ready")
			}
			if l == "ready" {
				return
			}
			if strings.HasPrefix(l, "error ") {
				t.Fatalf("helper: %s", l)
			}
		case <-timeout:
			t.Fatal("helper not ready after 30s")
		}
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	cmd, stdin, lines := startHelper(t, "TestHelperHoldLock", envHoldLock+"="+path)
	awaitReady(t, lines)

	start := time.Now()
	db, err := Open(path, Options{}) // the default LockTimeout, 1s
	elapsed := time.Since(start)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded on a file held by another process")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another shardscope") {
		t.Fatalf("error %q does not name the path and the likely cause", err)
	}
	// About 1s is the contract; the upper bound has slack because on a
	// loaded shared machine a 50ms sleep can overshoot by half a second.
	if elapsed < 900*time.Millisecond || elapsed > 4*time.Second {
		t.Fatalf("Open gave up after %v, want about 1s", elapsed)
	}
	t.Logf("locked: %v (after %v)", err, elapsed.Round(time.Millisecond))

	if _, err := Open(path, Options{LockTimeout: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open with LockTimeout<0 = %v, want ErrLocked at once", err)
	}

	// Once the other process lets go, the store opens.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	db = openAt(t, path, Options{})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

// realStore makes a store with some records and metadata and returns its
// bytes.
func realStore(t *testing.T) (path string, data []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "real.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		mustAppend(t, db, Append{Shard: ShardRef{"s", uint32(i % 4)}, Records: testRecords(uint32(i%4), uint64(i/4)*100, 100)})
	}
	if err := db.PutMeta("m", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, data
}

// usedSize is the size bbolt's current meta page says the file needs.
func usedSize(t *testing.T, path string) int {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var size int64
	bdb.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	return int(size)
}

func TestCorruptFiles(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	realPath, real := realStore(t)
	used := usedSize(t, realPath)
	ps := pageSize
	t.Logf("real store: %d bytes, %d used, page size %d", len(real), used, ps)

	cases := map[string][]byte{
		"random bytes":                    garbage(64 << 10),
		"text file":                       []byte("hello, I am not a database\n"),
		"short bbolt header":              real[:100],
		"meta 0 then garbage":             append(append([]byte(nil), real[:ps]...), garbage(60<<10)...),
		"both metas then garbage":         append(append([]byte(nil), real[:2*ps]...), garbage(60<<10)...),
		"truncated to one page":           real[:ps],
		"truncated to half":               real[:used/2],
		"truncated by one page":           real[:used-ps],
		"metas then garbage, full length": append(append([]byte(nil), real[:2*ps]...), garbage(len(real)-2*ps)...),
	}
	dir := t.TempDir()
	for name, content := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".db")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{})
		if err == nil {
			db.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v; want ErrCorrupt naming the path", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	// Cutting only unused tail pages is harmless.
	if len(real) > used {
		path := filepath.Join(dir, "tail-cut.db")
		os.WriteFile(path, real[:used], 0o600)
		db := openAt(t, path, Options{})
		if err := db.Check(); err != nil {
			t.Errorf("store cut to its used size: %v", err)
		}
	}
}

func TestForeignBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foreign.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("widgets"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	bdb.Close()
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "widgets") {
		t.Fatalf("Open of a foreign bbolt file = %v", err)
	}
	// The file is left as it was.
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("system")) != nil {
			t.Errorf("Open wrote into a foreign file")
		}
		return nil
	})

	// An empty bbolt file (no buckets) is adopted as a new store.
	empty := filepath.Join(t.TempDir(), "empty-bolt.db")
	bdb2, err := bolt.Open(empty, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb2.Close()
	db := openAt(t, empty, Options{})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestZeroLengthFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zero.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, path, Options{})
	mustAppend(t, db, Append{Shard: ShardRef{"z", 0}, Records: testRecords(0, 0, 3)})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestSchemaMismatch(t *testing.T) {
	path, _ := realStore(t)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("system")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, schemaVersion+1))
	})
	bdb.Close()
	_, err = Open(path, Options{})
	if !errors.Is(err, ErrSchema) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a store of a later version = %v, want ErrSchema naming the path", err)
	}
	t.Log(err)
}

func TestOpenMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "store.db")
	_, err := Open(path, Options{})
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open in a missing directory = %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open created the directory")
	}
	dirAsFile := t.TempDir()
	if _, err := Open(dirAsFile, Options{}); err == nil || !strings.Contains(err.Error(), dirAsFile) {
		t.Fatalf("Open of a directory = %v", err)
	}
}

// Damage in any page but the metas must give an error or a working store,
// never a crash and never wrong data: Open fails with ErrCorrupt, or Check
// and a full read either pass with every record as written or fail with
// ErrCorrupt. Seeds are fixed, so a failure repeats.
func TestOpenScrambled(t *testing.T) {
	_, real := realStore(t)
	ps := pageSize
	dir := t.TempDir()
	outcomes := map[string]int{}
	for iter := range 120 {
		rng := rand.New(rand.NewPCG(uint64(iter), 9))
		b := append([]byte(nil), real...)
		for off := 2 * ps; off+ps <= len(b); off += ps {
			switch iter % 4 {
			case 0: // whole page bodies, headers kept
				for i := off + 16; i < off+ps; i++ {
					b[i] = byte(rng.UintN(256))
				}
			case 1: // a few bytes per page
				for range 4 {
					b[off+16+rng.IntN(ps-16)] = byte(rng.UintN(256))
				}
			case 2: // whole pages, headers too, a third of them
				if rng.IntN(3) == 0 {
					for i := off; i < off+ps; i++ {
						b[i] = byte(rng.UintN(256))
					}
				}
			case 3: // bit flips near page starts (headers, first elements)
				for range 2 {
					b[off+rng.IntN(64)] ^= 1 << rng.IntN(8)
				}
			}
		}
		path := filepath.Join(dir, fmt.Sprintf("scrambled-%d.db", iter))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// The offline check runs first, on the file as damaged.
		rep, err := CheckStore(path, time.Second)
		if err != nil {
			t.Fatalf("iteration %d: CheckStore = %v", iter, err)
		}
		if rep.Damage() {
			outcomes["check command found damage"]++
		}
		db, err := Open(path, Options{})
		if err == nil && !rep.Damage() {
			if cerr := db.Check(); cerr != nil {
				t.Fatalf("iteration %d: CheckStore found nothing but Check says %v", iter, cerr)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("iteration %d: Open = %v; want ErrCorrupt naming the path", iter, err)
			}
			if strings.Contains(err.Error(), "bbolt: ") {
				outcomes["refused after a recovered panic"]++
			} else {
				outcomes["refused"]++
			}
			continue
		}
		outcomes[scrambledOutcome(t, iter, db)]++
		db.Close()
		os.Remove(path)
	}
	t.Logf("outcomes: %v", outcomes)
	// The page walk refuses most damaged trees before bbolt sees them
	// (Open's panic recovery remains behind it); some must open, or the
	// checks after Open prove nothing.
	if outcomes["refused"] == 0 || outcomes["refused"] == 120 {
		t.Errorf("outcomes %v: want some copies refused and some opened", outcomes)
	}
}

// scrambledOutcome checks an opened damaged copy of realStore: Check and a
// full read of every shard pass, or fail with ErrCorrupt; a record is never
// returned other than as written.
func scrambledOutcome(t *testing.T, iter int, db *DB) string {
	t.Helper()
	checkErr := db.Check()
	if checkErr != nil && !errors.Is(checkErr, ErrCorrupt) {
		t.Fatalf("iteration %d: Check = %v, want nil or ErrCorrupt", iter, checkErr)
	}
	readErr := error(nil)
	for shard := range uint32(4) {
		s := ShardRef{"s", shard}
		got := 0
		for from := uint64(0); ; {
			rs, err := db.Read(s, from, 100, 0)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("iteration %d: Read %s = %v, want ErrCorrupt", iter, s, err)
				}
				readErr = err
				break
			}
			if len(rs) == 0 {
				break
			}
			for _, r := range rs {
				if !sameRecord(r, testRecord(shard, r.Position)) {
					t.Fatalf("iteration %d: %s at %d read as %+v: damage served as data", iter, s, r.Position, r)
				}
			}
			got += len(rs)
			from = rs[len(rs)-1].Position + 1
		}
		if checkErr == nil && readErr == nil && got != 500 {
			t.Fatalf("iteration %d: Check passed but %s holds %d records, want 500", iter, s, got)
		}
	}
	switch {
	case checkErr == nil && readErr == nil:
		return "opened, checked and read whole"
	case checkErr == nil:
		t.Fatalf("iteration %d: Check passed but a read failed: %v", iter, readErr)
	case readErr == nil:
		return "opened, Check found the damage"
	}
	return "opened, Check and a read found the damage"
}

// A crash while a new store is being built leaves no store (only a
// temporary file, cleaned up later), never a file Open calls corrupt.
func TestCreationIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	errCrash := errors.New("crash")
	var sawTmp string
	createHook = func(tmp string) error {
		sawTmp = tmp
		// bbolt has written and synced every page of the new store; its
		// name does not exist yet.
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the store's name exists before the store is whole: %v", err)
		}
		return errCrash
	}
	t.Cleanup(func() { createHook = nil })
	if _, err := Open(path, Options{}); !errors.Is(err, errCrash) {
		t.Fatalf("Open with a crash during creation = %v", err)
	}
	createHook = nil
	if _, err := os.Stat(sawTmp); err != nil {
		t.Fatalf("the temporary store is gone after the crash: %v", err)
	}
	// The next Open creates the store; the leftover goes once it is stale.
	old := time.Now().Add(-2 * staleAfter)
	os.Chtimes(sawTmp, old, old)
	db := openAt(t, path, Options{})
	mustAppend(t, db, Append{Shard: ShardRef{"a", 0}, Records: testRecords(0, 0, 3)})
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sawTmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale temporary store %s not removed: %v", sawTmp, err)
	}
	if m, _ := filepath.Glob(path + ".new-*"); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

// Two processes creating one store at once end up on the same file.
func TestConcurrentCreationSharesOneStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	var first *DB
	createHook = func(tmp string) error {
		createHook = nil
		// Another process completes its creation meanwhile.
		var err error
		first, err = Open(path, Options{})
		return err
	}
	t.Cleanup(func() { createHook = nil })
	_, err := Open(path, Options{LockTimeout: -1})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open racing a creator = %v, want ErrLocked (the other holds the store)", err)
	}
	if first == nil {
		t.Fatal("the racing creator did not open")
	}
	first.Close()
}
