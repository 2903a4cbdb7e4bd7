// Package tlscert owns the server certificates of the Kinesis API: it
// loads a given certificate and key, or makes and keeps a self-signed
// one for the listen address beside the store, and reports its SHA-256
// fingerprint so clients can pin or trust it.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Validity is how long a self-signed certificate lasts.
const Validity = 365 * 24 * time.Hour

// Load reads a PEM certificate (chain) and key.
func Load(certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return c, nil
}

// Fingerprint is the SHA-256 of the leaf certificate's DER, in
// colon-separated upper-case hex as openssl prints it.
func Fingerprint(c tls.Certificate) string {
	if len(c.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(c.Certificate[0])
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// Hosts returns the names a certificate for listen address addr must
// cover: its host (or every loopback name when it is a wildcard address)
// plus localhost, 127.0.0.1 and ::1.
func Hosts(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if host != "" && host != "0.0.0.0" && host != "::" && !slices.Contains(hosts, host) {
		hosts = append(hosts, host)
	}
	return hosts
}

// SelfSigned returns the self-signed certificate kept at certFile and
// keyFile when it covers hosts and has a day left, else makes a new one
// (ECDSA P-256) and writes it there (the key with mode 0600). made says
// whether it was just made.
func SelfSigned(certFile, keyFile string, hosts []string, now time.Time) (c tls.Certificate, made bool, err error) {
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && covers(c, hosts, now) {
		return c, false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A subject of its own: TLS stacks find an issuer by name, and two
		// stores' certificates trusted together must not shadow each other.
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"shardscope (self-signed)"}, SerialNumber: serial.Text(16)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so it can be its own trust anchor in a CA bundle
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("write TLS key: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, false, fmt.Errorf("write TLS certificate: %w", err)
	}
	c, err = tls.X509KeyPair(certPEM, keyPEM)
	return c, true, err
}

func covers(c tls.Certificate, hosts []string, now time.Time) bool {
	if len(c.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil || now.Add(24*time.Hour).After(leaf.NotAfter) {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// Config is the server TLS configuration for one certificate: TLS 1.2 or
// later; ALPN (h2, http/1.1) is added by the server.
func Config(c tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
}

// ErrNoCertificate is returned when only one of a certificate and a key is given.
var ErrNoCertificate = errors.New("--tls-cert and --tls-key go together")
