package api

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodePackages copies testdata/<name> to a temporary directory and
// installs its pinned packages there (as consumers/testdata/kpl is). Without
// node or npm, or when the install fails, it skips, unless CI is "true".
func nodePackages(t *testing.T, name string, files ...string) string {
	t.Helper()
	unavailable := t.Skipf
	if os.Getenv("CI") == "true" {
		unavailable = t.Fatalf
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable("%s not found: %v", tool, err)
		}
	}
	dir := t.TempDir()
	for _, f := range append([]string{"package.json", "package-lock.json"}, files...) {
		b, err := os.ReadFile(filepath.Join("testdata", name, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out []byte
	var err error
	for _, args := range [][]string{{"ci"}, {"install"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		cmd := exec.CommandContext(ctx, "npm", append(args, "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		out, err = cmd.CombinedOutput()
		cancel()
		if err == nil {
			return dir
		}
	}
	unavailable("npm could not install testdata/%s: %v\n%s", name, err, out)
	return ""
}

// TestEndToEndAuthJSSDKv3 runs testdata/jssdk/kinesis.mjs: the AWS SDK for
// JavaScript v3, whose Kinesis client speaks only HTTP/2, against servers
// with signatures, policies and self-signed TLS.
func TestEndToEndAuthJSSDKv3(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: installs npm packages")
	}
	dir := nodePackages(t, "jssdk", "kinesis.mjs")
	env := newSecureEnv(t, scriptPolicies, true)
	skewed := newSecureEnv(t, scriptPolicies, true)
	skewed.skew.Store(int64(10 * time.Minute))
	var pems []string
	for _, f := range []string{env.caFile, skewed.caFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, string(b))
	}
	ca := writeFile(t, "ca.pem", strings.Join(pems, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "kinesis.mjs", env.url, skewed.url)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+ca, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node kinesis.mjs: %v\n%s", err, out)
	}
	var protos []string
	env.protos.Range(func(k, _ any) bool { protos = append(protos, k.(string)); return true })
	if len(protos) != 1 || protos[0] != "HTTP/2.0" {
		t.Fatalf("the JS SDK's requests came over %v, want only HTTP/2.0", protos)
	}
}
