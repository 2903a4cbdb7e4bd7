package storage

import (
	"errors"
	"fmt"
	"testing"
)

func TestMeta(t *testing.T) {
	db := openTest(t, Options{})
	if v, err := db.GetMeta("streams", "a"); err != nil || v != nil {
		t.Fatalf("GetMeta on a missing bucket = %q, %v", v, err)
	}
	if err := db.DeleteMeta("streams", "a"); err != nil {
		t.Fatalf("DeleteMeta on a missing bucket = %v", err)
	}
	if err := db.ForEachMeta("streams", func(string, []byte) error { t.Error("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"c", "a", "b"} {
		if err := db.PutMeta("streams", k, []byte("v-"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutMeta("leases", "empty", []byte{}); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.GetMeta("leases", "empty"); v == nil || len(v) != 0 {
		t.Fatalf("empty value read back as %#v, want empty non-nil", v)
	}
	v, _ := db.GetMeta("streams", "b")
	if string(v) != "v-b" {
		t.Fatalf("GetMeta = %q", v)
	}
	v[0] = 'X' // a copy: the stored value must not change
	if v, _ := db.GetMeta("streams", "b"); string(v) != "v-b" {
		t.Fatalf("stored value changed through GetMeta's slice: %q", v)
	}
	var keys []string
	err := db.ForEachMeta("streams", func(k string, v []byte) error {
		keys = append(keys, k+"="+string(v))
		// fn runs outside the read transaction: writing here must not deadlock.
		return db.PutMeta("seen", k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[a=v-a b=v-b c=v-c]" {
		t.Fatalf("ForEachMeta order = %v", keys)
	}
	stop := errors.New("stop")
	n := 0
	if err := db.ForEachMeta("streams", func(string, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("ForEachMeta with a stopping fn = %v after %d calls", err, n)
	}
	if err := db.DeleteMeta("streams", "a"); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.GetMeta("streams", "a"); v != nil {
		t.Fatalf("deleted key still there: %q", v)
	}
	if v, _ := db.GetMeta("seen", "c"); string(v) != "v-c" {
		t.Fatalf("write from inside ForEachMeta lost: %q", v)
	}
}

func TestUpdateMeta(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.PutMeta("leases", "shard-0", []byte("owner-a")); err != nil {
		t.Fatal(err)
	}
	// A conditional takeover that fails leaves everything as it was.
	errTaken := errors.New("lease held")
	err := db.UpdateMeta("leases", func(tx MetaTx) error {
		if err := tx.Put("shard-1", []byte("owner-b")); err != nil {
			return err
		}
		if err := tx.Delete("shard-0"); err != nil {
			return err
		}
		if got := tx.Get("shard-1"); string(got) != "owner-b" {
			t.Errorf("own write not visible in the transaction: %q", got)
		}
		return errTaken
	})
	if err != errTaken {
		t.Fatalf("UpdateMeta = %v, want the fn's own error", err)
	}
	if v, _ := db.GetMeta("leases", "shard-0"); string(v) != "owner-a" {
		t.Fatalf("failed UpdateMeta deleted a key: %q", v)
	}
	if v, _ := db.GetMeta("leases", "shard-1"); v != nil {
		t.Fatalf("failed UpdateMeta wrote a key: %q", v)
	}

	// A successful one commits all of it; ForEach may mutate as it goes.
	err = db.UpdateMeta("leases", func(tx MetaTx) error {
		if string(tx.Get("shard-0")) != "owner-a" {
			return errTaken
		}
		for i := 1; i <= 3; i++ {
			if err := tx.Put(fmt.Sprintf("shard-%d", i), []byte("owner-b")); err != nil {
				return err
			}
		}
		return tx.ForEach(func(k string, v []byte) error {
			if string(v) == "owner-a" {
				return tx.Put(k, []byte("owner-b"))
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	db.ForEachMeta("leases", func(k string, v []byte) error {
		n++
		if string(v) != "owner-b" {
			t.Errorf("%s = %q", k, v)
		}
		return nil
	})
	if n != 4 {
		t.Fatalf("%d leases, want 4", n)
	}

	// A panic in fn is the caller's: it propagates and nothing is written.
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the fn's panic", p)
			}
		}()
		db.UpdateMeta("leases", func(tx MetaTx) error {
			tx.Put("panic", []byte("x"))
			panic("boom")
		})
	}()
	if v, _ := db.GetMeta("leases", "panic"); v != nil {
		t.Fatalf("panicking UpdateMeta wrote %q", v)
	}
	// The DB still works after it.
	if err := db.PutMeta("leases", "after", []byte("ok")); err != nil {
		t.Fatal(err)
	}
}
