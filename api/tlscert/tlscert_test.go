package tlscert

import (
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSelfSignedKeptAndRemade(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	hosts := Hosts("127.0.0.1:4567")
	c1, made, err := SelfSigned(cert, key, hosts, now)
	if err != nil || !made {
		t.Fatalf("first: made=%v err=%v", made, err)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("certificate does not cover %s: %v", h, err)
		}
	}
	sum := sha256.Sum256(c1.Certificate[0])
	fp := Fingerprint(c1)
	if len(fp) != 95 || !strings.HasPrefix(fp, strings.ToUpper(fmtHex(sum[:1]))) {
		t.Errorf("fingerprint %q", fp)
	}
	// The same hosts a month later: kept.
	c2, made, err := SelfSigned(cert, key, hosts, now.Add(30*24*time.Hour))
	if err != nil || made || Fingerprint(c2) != fp {
		t.Fatalf("second: made=%v err=%v", made, err)
	}
	// A new listen host, or a certificate about to expire: remade.
	if _, made, err := SelfSigned(cert, key, Hosts("10.1.2.3:4567"), now); err != nil || !made {
		t.Fatalf("new host: made=%v err=%v", made, err)
	}
	if _, made, err := SelfSigned(cert, key, Hosts("10.1.2.3:4567"), now.Add(Validity)); err != nil || !made {
		t.Fatalf("expiring: made=%v err=%v", made, err)
	}
}

func fmtHex(b []byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b[0]>>4], digits[b[0]&15]})
}

func TestHosts(t *testing.T) {
	if got := Hosts("0.0.0.0:4567"); !slices.Equal(got, []string{"localhost", "127.0.0.1", "::1"}) {
		t.Errorf("wildcard: %v", got)
	}
	if got := Hosts("192.168.1.5:1"); !slices.Contains(got, "192.168.1.5") {
		t.Errorf("host: %v", got)
	}
}
