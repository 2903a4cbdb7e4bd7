package kms

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T, path string, now func() time.Time) *Keyring {
	t.Helper()
	k, err := Open(path, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantKind(t *testing.T, err error, kind Kind) {
	t.Helper()
	if KindOf(err) != kind {
		t.Fatalf("got %v (kind %d), want kind %d", err, KindOf(err), kind)
	}
}

// Every KeyId form resolves; the managed key appears on first use and
// refuses changes; nothing is written until something changes.
func TestResolveForms(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db.keys")
	k := openTest(t, path, nil)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Open created the file: %v", err)
	}
	m, err := k.Resolve(ManagedAlias)
	if err != nil {
		t.Fatal(err)
	}
	if m2, err := k.Resolve("arn:aws:kms:us-east-1:000000000000:" + ManagedAlias); err != nil || m2 != m {
		t.Fatalf("alias ARN: %v, %v", m2, err)
	}
	wantKind(t, k.Disable(ManagedAlias), KindInvalid)
	wantKind(t, k.Rotate(m.ID), KindInvalid)
	wantKind(t, k.SetAlias("alias/mine", m.ARN), KindInvalid)
	c, err := k.Create("c")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SetAlias("alias/c", c.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{c.ID, c.ARN, "alias/c", "arn:aws:kms:us-east-1:000000000000:alias/c"} {
		if key, err := k.Resolve(id); err != nil || key.ID != c.ID {
			t.Fatalf("Resolve(%s) = %v, %v", id, key, err)
		}
	}
	for _, id := range []string{"alias/none", "arn:aws:kms:us-west-2:000000000000:alias/c", "arn:aws:kms:us-east-1:111111111111:key/" + c.ID, "not a key", "00000000-0000-4000-8000-000000000000"} {
		_, err := k.Resolve(id)
		wantKind(t, err, KindNotFound)
	}
	// The file holds the material but no plaintext data key ever.
	b, _ := os.ReadFile(path)
	if !bytes.Contains(b, []byte(c.ID)) {
		t.Fatal("key not in the file")
	}
}

// Data keys unwrap only with the same context, under every version after
// rotations, and not once the key is gone.
func TestDataKeysAcrossRotationAndDeletion(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	k := openTest(t, filepath.Join(t.TempDir(), "k"), clock)
	info, _ := k.Create("")
	key, _ := k.Resolve(info.ID)
	type wrapped struct {
		plain, w []byte
		v        int
	}
	var ws []wrapped
	for i := range 3 {
		p, w, v, err := key.GenerateDataKey([]byte("ctx"))
		if err != nil || v != i {
			t.Fatalf("GenerateDataKey: version %d, %v", v, err)
		}
		ws = append(ws, wrapped{p, w, v})
		if err := k.Rotate(info.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range ws {
		got, err := key.Decrypt(w.v, w.w, []byte("ctx"))
		if err != nil || !bytes.Equal(got, w.plain) {
			t.Fatalf("Decrypt v%d: %v", w.v, err)
		}
		_, err = key.Decrypt(w.v, w.w, []byte("other"))
		wantKind(t, err, KindAccessDenied)
	}
	if _, err := k.ScheduleDeletion(info.ID, 7); err != nil {
		t.Fatal(err)
	}
	_, err := key.Decrypt(0, ws[0].w, []byte("ctx"))
	wantKind(t, err, KindInvalidState)
	wantKind(t, key.Check(), KindInvalidState)
	if err := k.CancelDeletion(info.ID); err != nil {
		t.Fatal(err)
	}
	wantKind(t, key.Check(), KindDisabled)
	if err := k.Enable(info.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ScheduleDeletion(info.ID, 7); err != nil {
		t.Fatal(err)
	}
	now = now.Add(7 * 24 * time.Hour)
	_, err = key.Decrypt(0, ws[0].w, []byte("ctx"))
	wantKind(t, err, KindAccessDenied)
	wantKind(t, key.Check(), KindNotFound)
	// The next change purges it from the file for good.
	if _, err := k.Create(""); err != nil {
		t.Fatal(err)
	}
	list, _ := k.List()
	if len(list) != 1 || list[0].ID == info.ID {
		t.Fatalf("after deletion: %+v", list)
	}
}

// Keyrings in several processes (here: instances) on one file never lose
// each other's keys.
func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := Open(path, Options{})
			if err != nil {
				t.Error(err)
				return
			}
			for j := range 5 {
				if _, err := k.Create(fmt.Sprintf("%d-%d", i, j)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	list, err := openTest(t, path, nil).List()
	if err != nil || len(list) != 20 {
		t.Fatalf("%d keys, %v; want 20", len(list), err)
	}
}
