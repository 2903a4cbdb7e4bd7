package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/shardscope/shardscope/api"
	"github.com/shardscope/shardscope/api/auth"
	"github.com/shardscope/shardscope/api/tlscert"
	"github.com/shardscope/shardscope/engine"
)

// securityFlags are the flags that make the API behave like the service's
// front door: signed requests, policies and TLS.
type securityFlags struct {
	auth, policy    string
	tlsCert, tlsKey string
	tlsSelfSigned   bool
}

func (f *securityFlags) register(cmd *cobra.Command, with string) {
	fl := cmd.Flags()
	fl.StringVar(&f.auth, "auth", "", with+"verify every request's AWS Signature V4 against the keys in this AWS shared-credentials file ([name] sections; name = IAM user)")
	fl.StringVar(&f.policy, "policy", "", with+"decide every signed request with the IAM identity policies in this JSON file (user → policy document(s)); needs --auth")
	fl.StringVar(&f.tlsCert, "tls-cert", "", with+"serve HTTPS only, with this PEM certificate (needs --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", with+"the PEM private key of --tls-cert")
	fl.BoolVar(&f.tlsSelfSigned, "tls-self-signed", false, with+"serve HTTPS only, with a self-signed certificate for the listen address kept beside the store (fingerprint printed)")
}

// security is what the flags built.
type security struct {
	opts        api.Options // Auth and Policies
	tls         *tls.Config
	certFile    string // the certificate clients should trust, when TLS
	fingerprint string
	made        bool // the self-signed certificate was just made
}

func (f *securityFlags) any() bool {
	return f.auth != "" || f.policy != "" || f.tlsCert != "" || f.tlsKey != "" || f.tlsSelfSigned
}

// build reads the files the flags name. storePath places a self-signed
// certificate; ln is the listener it is for.
func (f *securityFlags) build(e *engine.Engine, storePath string, ln net.Listener) (security, error) {
	var s security
	o := e.Options()
	if f.policy != "" && f.auth == "" {
		return s, errors.New("--policy needs --auth: a policy decides for a signed caller")
	}
	if f.auth != "" {
		keys, err := auth.LoadCredentials(f.auth, o.AccountID)
		if err != nil {
			return s, fmt.Errorf("--auth: %w", err)
		}
		s.opts.Auth = &auth.Verifier{Keys: keys, Region: o.Region, Now: e.Clock().Now}
	}
	if f.policy != "" {
		a, err := auth.LoadPolicies(f.policy, o.AccountID)
		if err != nil {
			return s, fmt.Errorf("--policy: %w", err)
		}
		s.opts.Policies = a
	}
	switch {
	case f.tlsSelfSigned && (f.tlsCert != "" || f.tlsKey != ""):
		return s, errors.New("--tls-self-signed and --tls-cert/--tls-key exclude each other")
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return s, tlscert.ErrNoCertificate
	case f.tlsCert != "":
		c, err := tlscert.Load(f.tlsCert, f.tlsKey)
		if err != nil {
			return s, err
		}
		s.tls, s.certFile, s.fingerprint = tlscert.Config(c), f.tlsCert, tlscert.Fingerprint(c)
	case f.tlsSelfSigned:
		s.certFile = storePath + ".tls-cert.pem"
		c, made, err := tlscert.SelfSigned(s.certFile, storePath+".tls-key.pem", tlscert.Hosts(ln.Addr().String()), time.Now())
		if err != nil {
			return s, fmt.Errorf("--tls-self-signed: %w", err)
		}
		s.tls, s.fingerprint, s.made = tlscert.Config(c), tlscert.Fingerprint(c), made
	}
	return s, nil
}

// scheme is the endpoint's URL scheme.
func (s security) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// describe says, in one line each, what is on.
func (s security) describe() []string {
	var out []string
	if s.opts.Auth != nil {
		out = append(out, fmt.Sprintf("signed requests required (%d keys)", s.opts.Auth.Keys.Len()))
	}
	if s.opts.Policies != nil {
		out = append(out, fmt.Sprintf("IAM policies enforced (%d principals with identity policies)", s.opts.Policies.Principals()))
	}
	if s.tls != nil {
		out = append(out, fmt.Sprintf("TLS certificate %s, SHA-256 fingerprint %s", s.certFile, s.fingerprint))
	}
	return out
}
