package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// Key is one access key from a credentials file.
type Key struct {
	// AccessKeyID is the key's id (aws_access_key_id).
	AccessKeyID string
	// Secret is the secret access key (aws_secret_access_key).
	Secret string
	// SessionToken, when set, must come with every request signed by the
	// key (aws_session_token): the key is a temporary one.
	SessionToken string
	// Expires is when the session token stops working; zero means never.
	// It is read from x_security_token_expires (RFC 3339), the key other
	// tools (saml2aws, aws-vault) write beside temporary keys.
	Expires time.Time
	// Principal is the ARN the key acts as, arn:aws:iam::ACCOUNT:user/NAME.
	Principal string
}

// Credentials are the keys a server accepts, by access key id.
type Credentials struct {
	byID map[string]*Key
	// Principals lists every principal ARN, in file order.
	Principals []string
}

// Lookup returns the key with that id, or nil.
func (c *Credentials) Lookup(accessKeyID string) *Key {
	if c == nil {
		return nil
	}
	return c.byID[accessKeyID]
}

// Len is the number of keys.
func (c *Credentials) Len() int { return len(c.byID) }

// LoadCredentials reads a credentials file; see ParseCredentials.
func LoadCredentials(path, account string) (*Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := ParseCredentials(f, account)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

var userName = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
var principalARN = regexp.MustCompile(`^arn:aws[\w-]*:(iam|sts)::\d{12}:[\w+=,.@/-]+$`)

// ParseCredentials reads keys in the AWS shared-credentials format:
// "[name]" sections with aws_access_key_id, aws_secret_access_key and
// optionally aws_session_token and x_security_token_expires. A section
// named NAME (the profile prefix "profile " is dropped) is the principal
// arn:aws:iam::ACCOUNT:user/NAME; a section named by a full IAM or STS ARN
// is that principal. Other keys are ignored, as the SDKs ignore them.
func ParseCredentials(r io.Reader, account string) (*Credentials, error) {
	c := &Credentials{byID: map[string]*Key{}}
	var cur *Key
	var curName string
	var curLine int
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.AccessKeyID == "" || cur.Secret == "" {
			return fmt.Errorf("line %d: section [%s] needs aws_access_key_id and aws_secret_access_key", curLine, curName)
		}
		if prev, ok := c.byID[cur.AccessKeyID]; ok {
			return fmt.Errorf("line %d: access key %s is already %s's", curLine, cur.AccessKeyID, prev.Principal)
		}
		c.byID[cur.AccessKeyID] = cur
		c.Principals = append(c.Principals, cur.Principal)
		return nil
	}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: unterminated section header %q", n, line)
			}
			if err := finish(); err != nil {
				return nil, err
			}
			curName = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[1:len(line)-1]), "profile "))
			p, err := PrincipalFor(curName, account)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			cur, curLine = &Key{Principal: p}, n
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: expected key = value, got %q", n, line)
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %q is outside any [section]", n, line)
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		switch k {
		case "aws_access_key_id":
			cur.AccessKeyID = v
		case "aws_secret_access_key":
			cur.Secret = v
		case "aws_session_token", "aws_security_token":
			cur.SessionToken = v
		case "x_security_token_expires":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return nil, fmt.Errorf("line %d: x_security_token_expires: %w", n, err)
			}
			cur.Expires = t
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(c.byID) == 0 {
		return nil, fmt.Errorf("no credentials found (expected [name] sections with aws_access_key_id and aws_secret_access_key)")
	}
	return c, nil
}

// PrincipalFor turns a credentials section or policy file name into a
// principal ARN: a bare user name gets the account's IAM user ARN, a full
// ARN stays as it is.
func PrincipalFor(name, account string) (string, error) {
	if strings.HasPrefix(name, "arn:") {
		if !principalARN.MatchString(name) {
			return "", fmt.Errorf("%q is not an IAM or STS principal ARN", name)
		}
		return name, nil
	}
	if !userName.MatchString(name) {
		return "", fmt.Errorf("%q is not a valid IAM user name", name)
	}
	return "arn:aws:iam::" + account + ":user/" + name, nil
}
