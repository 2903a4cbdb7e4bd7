package auth

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The fixed inputs of the published AWS Signature Version 4 test suite.
const (
	suiteKeyID  = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteToken  = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
)

var suiteTime = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

func suiteKeys(t testing.TB, token string) *Credentials {
	t.Helper()
	text := "[example]\naws_access_key_id = " + suiteKeyID + "\naws_secret_access_key = " + suiteSecret + "\n"
	if token != "" {
		text += "aws_session_token = " + token + "\n"
	}
	c, err := ParseCredentials(strings.NewReader(text), "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readSuiteRequest parses a test suite's signed request (the
// header-signed-request.txt form: "Name:value" headers, a blank line, the
// body) into a server-side request.
func readSuiteRequest(t testing.TB, text string) (*http.Request, []byte) {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	sc := bufio.NewScanner(strings.NewReader(head))
	sc.Scan()
	parts := strings.Fields(sc.Text())
	req, err := http.NewRequest(parts[0], "http://example.amazonaws.com"+parts[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{}
	req.ContentLength = -1
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Add(k, v)
	}
	return req, []byte(body)
}

// Published values from the AWS SigV4 test suite (aws-c-auth
// tests/aws-signing-test-suite/v4/<case>/header-signed-request.txt, and
// the older suite botocore ships for post-vanilla). Only cases with a
// path of "/" apply: Kinesis never signs another path.
var suiteCases = []struct {
	name, token, request string
}{
	{"get-vanilla", "", "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n\n"},
	{"get-vanilla-query-order-key-case", "", "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500\n\n"},
	{"post-vanilla", "", "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b\n\n"},
	{"post-vanilla-query", "", "POST /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-header-value-trim", "", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-header-key-duplicate", "", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea\nX-Amz-Date:20150830T123600Z\n\n"},
	{"get-vanilla-with-session-token", suiteToken, "GET / HTTP/1.1\nHost:example.amazonaws.com\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8\nX-Amz-Date:20150830T123600Z\nX-Amz-Security-Token:" + suiteToken + "\n\n"},
	{"post-x-www-form-urlencoded", "", "POST / HTTP/1.1\nContent-Type:application/x-www-form-urlencoded\nHost:example.amazonaws.com\nContent-Length:13\nx-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\nAuthorization:AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b\nX-Amz-Date:20150830T123600Z\n\nParam1=value1"},
}

func suiteVerifier(t testing.TB, token string) *Verifier {
	return &Verifier{Keys: suiteKeys(t, token), Region: "us-east-1", Service: "service", Now: func() time.Time { return suiteTime }}
}

func TestSigV4Suite(t *testing.T) {
	for _, tc := range suiteCases {
		t.Run(tc.name, func(t *testing.T) {
			v := suiteVerifier(t, tc.token)
			r, body := readSuiteRequest(t, tc.request)
			id, err := v.Verify(r, body)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if want := "arn:aws:iam::123456789012:user/example"; id.Principal != want {
				t.Errorf("principal %q, want %q", id.Principal, want)
			}
			// The hand-written path alone must agree too.
			sig, _ := ParseAuthorization(r.Header.Get("Authorization"), true)
			payload, _ := payloadHash(r, body, sig)
			got := hex.EncodeToString(hmacSHA256(DeriveKey(suiteSecret, sig.Date, sig.Region, sig.Service), []byte(StringToSign(suiteTime, sig.Scope(), CanonicalRequest(r, sig, payload)))))
			if got != sig.Signature {
				t.Errorf("canonical path signature %s, want %s\ncanonical request:\n%s", got, sig.Signature, CanonicalRequest(r, sig, payload))
			}
			// And so must the SDK signer's path, wherever it applies.
			if v.sdkFits(sig) {
				if got, ok := v.sdkSignature(r, sig, v.Keys.Lookup(suiteKeyID), suiteTime, payload); !ok || got != sig.Signature {
					t.Errorf("SDK signer path: %s (ok=%v), want %s", got, ok, sig.Signature)
				}
			}
			// One changed byte of a signed header breaks it.
			r.Header.Set("X-Amz-Date", "20150830T123601Z")
			if _, err := v.Verify(r, body); err == nil || err.Code != InvalidSignature {
				t.Errorf("tampered date: got %v, want InvalidSignatureException", err)
			}
		})
	}
}

// TestSigV4DerivedKey checks the key derivation against the value AWS
// publishes for the suite's secret and scope.
func TestSigV4DerivedKey(t *testing.T) {
	got := hex.EncodeToString(DeriveKey(suiteSecret, "20150830", "us-east-1", "service"))
	if want := "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75"; got != want {
		t.Errorf("DeriveKey = %s, want %s", got, want)
	}
}

// kinesisRequest signs a Kinesis-shaped request with the SDK's signer at
// when, as the Go SDK sends it.
func kinesisRequest(t testing.TB, keyID, secret, token, region string, when time.Time, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "Kinesis_20131202.ListStreams")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: token}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kinesis", region, when); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyErrors(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	keys, err := ParseCredentials(strings.NewReader(`
[alice]
aws_access_key_id = AKIAALICE
aws_secret_access_key = alice-secret
[temp]
aws_access_key_id = ASIATEMP
aws_secret_access_key = temp-secret
aws_session_token = tok
x_security_token_expires = 2026-12-03T11:00:00Z
[fresh]
aws_access_key_id = ASIAFRESH
aws_secret_access_key = fresh-secret
aws_session_token = tok2
x_security_token_expires = 2026-12-03T13:00:00Z
`), "000000000000")
	if err != nil {
		t.Fatal(err)
	}
	v := &Verifier{Keys: keys, Region: "us-east-1", Now: func() time.Time { return now }}
	body := `{}`
	tests := []struct {
		name, code, msgPrefix string
		req                   func() *http.Request
	}{
		{"right key", "", "", func() *http.Request {
			return kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
		}},
		{"session token", "", "", func() *http.Request {
			return kinesisRequest(t, "ASIAFRESH", "fresh-secret", "tok2", "us-east-1", now, body)
		}},
		{"no signature", MissingAuthenticationToken, "Missing Authentication Token", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.Header.Del("Authorization")
			return r
		}},
		{"no SignedHeaders", IncompleteSignature, "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			h := r.Header.Get("Authorization")
			i, j := strings.Index(h, "SignedHeaders="), strings.Index(h, "Signature=")
			r.Header.Set("Authorization", h[:i]+h[j:])
			return r
		}},
		{"no date", IncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.Header.Del("X-Amz-Date")
			return r
		}},
		{"bad date", IncompleteSignature, "Date must be in ISO-8601 'basic format'. Got 'yesterday'.", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.Header.Set("X-Amz-Date", "yesterday")
			return r
		}},
		{"wrong secret", InvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.", func() *http.Request {
			return kinesisRequest(t, "AKIAALICE", "wrong", "", "us-east-1", now, body)
		}},
		{"tampered body", InvalidSignature, "The request signature we calculated does not match", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, `{"Limit":1}`)
			return r
		}},
		{"wrong region", InvalidSignature, "Credential should be scoped to a valid region, not 'eu-west-1'. ", func() *http.Request {
			return kinesisRequest(t, "AKIAALICE", "alice-secret", "", "eu-west-1", now, body)
		}},
		{"too old", InvalidSignature, "Signature expired: 20261203T115400Z is now earlier than 20261203T115500Z (20261203T120000Z - 5 min.)", func() *http.Request {
			return kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now.Add(-6*time.Minute), body)
		}},
		{"too new", InvalidSignature, "Signature not yet current: 20261203T120600Z is still later than 20261203T120500Z (20261203T120000Z + 5 min.)", func() *http.Request {
			return kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now.Add(6*time.Minute), body)
		}},
		{"unknown key", UnrecognizedClient, "The security token included in the request is invalid.", func() *http.Request {
			return kinesisRequest(t, "AKIANOBODY", "x", "", "us-east-1", now, body)
		}},
		{"token missing", UnrecognizedClient, "The security token included in the request is invalid.", func() *http.Request {
			return kinesisRequest(t, "ASIAFRESH", "fresh-secret", "", "us-east-1", now, body)
		}},
		{"wrong token", UnrecognizedClient, "The security token included in the request is invalid.", func() *http.Request {
			return kinesisRequest(t, "ASIAFRESH", "fresh-secret", "other", "us-east-1", now, body)
		}},
		{"expired token", ExpiredToken, "The security token included in the request is expired", func() *http.Request {
			return kinesisRequest(t, "ASIATEMP", "temp-secret", "tok", "us-east-1", now, body)
		}},
		{"both forms", InvalidSignature, "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			return r
		}},
		{"query form incomplete", IncompleteSignature, "AWS query-string parameters must include 'X-Amz-Credential'. ", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.Header.Del("Authorization")
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			return r
		}},
		{"host not signed", InvalidSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", func() *http.Request {
			r := kinesisRequest(t, "AKIAALICE", "alice-secret", "", "us-east-1", now, body)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req()
			_, err := v.Verify(r, []byte(body))
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("Verify: %v", err)
			case tc.code == "":
				return
			case err == nil:
				t.Fatalf("Verify passed, want %s", tc.code)
			case err.Code != tc.code || !strings.HasPrefix(err.Message, tc.msgPrefix):
				t.Fatalf("got %s: %q\nwant %s: %q…", err.Code, err.Message, tc.code, tc.msgPrefix)
			case err.Status != http.StatusBadRequest:
				t.Errorf("status %d, want 400", err.Status)
			}
		})
	}
}

// TestVerifyPresigned checks the query form as the SDK's PresignHTTP makes it.
func TestVerifyPresigned(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Keys: suiteKeys(t, ""), Region: "us-east-1", Now: func() time.Time { return now }}
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/?X-Amz-Expires=60", nil)
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: suiteKeyID, SecretAccessKey: suiteSecret}, r, UnsignedPayload, "kinesis", "us-east-1", now)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := http.NewRequest(http.MethodPost, u, nil)
	pr.Header = hdr
	if _, err := v.Verify(pr, nil); err != nil {
		t.Fatalf("presigned: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(pr, nil); err == nil || err.Code != InvalidSignature || !strings.HasPrefix(err.Message, "Signature expired") {
		t.Fatalf("presigned after X-Amz-Expires: %v", err)
	}
}

// TestVerifyHandPathSignedUserAgent: a client that signs User-Agent (the
// Java SDK v1 does) is checked by the hand-written canonicalizer, since
// the Go signer never signs that header.
func TestVerifyHandPathSignedUserAgent(t *testing.T) {
	now := suiteTime
	v := &Verifier{Keys: suiteKeys(t, ""), Region: "us-east-1", Now: func() time.Time { return now }}
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", nil)
	r.Header.Set("User-Agent", "aws-sdk-java/1.12")
	r.Header.Set("X-Amz-Date", now.Format(amzDateFormat))
	r.Host = "127.0.0.1:4567"
	sig := Signature{AccessKeyID: suiteKeyID, Date: "20150830", Region: "us-east-1", Service: "kinesis", Terminator: "aws4_request", SignedHeaders: []string{"host", "user-agent", "x-amz-date"}}
	emptyHash := hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }())
	sig.Signature = hex.EncodeToString(hmacSHA256(DeriveKey(suiteSecret, sig.Date, sig.Region, sig.Service), []byte(StringToSign(now, sig.Scope(), CanonicalRequest(r, sig, emptyHash)))))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+suiteKeyID+"/"+sig.Scope()+",SignedHeaders=host;user-agent;x-amz-date,Signature="+sig.Signature)
	if _, err := v.Verify(r, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	r.Header.Set("User-Agent", "someone-else")
	if _, err := v.Verify(r, nil); err == nil || err.Code != InvalidSignature {
		t.Fatalf("changed User-Agent: got %v, want InvalidSignatureException", err)
	}
}

// TestVerifyDateHeader: a signature dated by the HTTP Date header, with no
// X-Amz-Date, is accepted, and its time is checked for skew.
func TestVerifyDateHeader(t *testing.T) {
	now := suiteTime
	v := &Verifier{Keys: suiteKeys(t, ""), Region: "us-east-1", Now: func() time.Time { return now }}
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:4567/", nil)
	r.Host = "127.0.0.1:4567"
	r.Header.Set("Date", now.Format(http.TimeFormat))
	sig := Signature{AccessKeyID: suiteKeyID, Date: "20150830", Region: "us-east-1", Service: "kinesis", Terminator: "aws4_request", SignedHeaders: []string{"date", "host"}}
	sum := sha256.Sum256(nil)
	sig.Signature = hex.EncodeToString(hmacSHA256(DeriveKey(suiteSecret, sig.Date, sig.Region, sig.Service), []byte(StringToSign(now, sig.Scope(), CanonicalRequest(r, sig, hex.EncodeToString(sum[:]))))))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+suiteKeyID+"/"+sig.Scope()+", SignedHeaders=date;host, Signature="+sig.Signature)
	if _, err := v.Verify(r, nil); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	now = now.Add(10 * time.Minute)
	if _, err := v.Verify(r, nil); err == nil || !strings.HasPrefix(err.Message, "Signature expired: 20150830T123600Z") {
		t.Fatalf("ten minutes later: %v", err)
	}
}
