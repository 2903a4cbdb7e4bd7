package deliver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// unavailable skips a test whose tool is missing, unless CI is "true":
// there it must run, so it fails.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t testing.TB, what, addr string, logPath string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not listen on %s within 60 s:\n%s", what, addr, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var (
	npmOnce sync.Once
	npmDir  string
	npmErr  error
)

// s3rverModules installs testdata/s3rver's pinned packages once per run.
func s3rverModules(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s not found (s3rver needs it): %v", tool, err)
		}
	}
	npmOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "testdata", "s3rver")
		npmDir, npmErr = os.MkdirTemp("", "shardscope-s3rver-")
		if npmErr != nil {
			return
		}
		for _, name := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, name))
			if err != nil {
				npmErr = err
				return
			}
			if npmErr = os.WriteFile(filepath.Join(npmDir, name), b, 0o644); npmErr != nil {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = npmDir
		cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci in %s: %v\n%s", npmDir, err, out)
		}
	})
	if npmErr != nil {
		unavailable(t, "%v", npmErr)
	}
	return npmDir
}

// s3rverProc is a running s3rver that a test can stop and start again on
// the same port and directory.
type s3rverProc struct {
	t       testing.TB
	modules string
	port    int
	dir     string
	cmd     *exec.Cmd
	log     string
}

// startS3rver runs s3rver on plain HTTP on a loopback port (see
// ../shared/docs/ecosystem.md §4 for its quirks) and returns it.
func startS3rver(t testing.TB) *s3rverProc {
	t.Helper()
	s := &s3rverProc{t: t, modules: s3rverModules(t), port: freePort(t), dir: t.TempDir()}
	s.log = filepath.Join(s.dir, "s3rver.log")
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *s3rverProc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

func (s *s3rverProc) start() {
	s.t.Helper()
	f, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command("node", filepath.Join(s.modules, "node_modules", "s3rver", "bin", "s3rver.js"),
		"--address", "127.0.0.1", "--port", strconv.Itoa(s.port), "--directory", filepath.Join(s.dir, "data"),
		"--silent", "--configure-bucket", "firehose")
	// Listing pages use DES tokens, refused by Node ≥ 17 without this.
	s.cmd.Env = append(os.Environ(), "NODE_OPTIONS=--openssl-legacy-provider")
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	f.Close()
	waitListening(s.t, "s3rver", fmt.Sprintf("127.0.0.1:%d", s.port), s.log)
}

func (s *s3rverProc) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// pgServer is a PostgreSQL server of the test's own: initdb in a temp
// directory, a loopback port, stopped and started by the test.
type pgServer struct {
	t        testing.TB
	bin, dir string
	port     int
	asUser   []string // how to run the server's programs (not as root)
}

// startPostgres starts Debian's postgresql (the major version .ci/run
// installs) and returns it.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		unavailable(t, "PostgreSQL's server programs are not installed (apt-get install postgresql)")
	}
	p := &pgServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: freePort(t)}
	base, err := os.MkdirTemp("", "shardscope-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	p.dir = filepath.Join(base, "data")
	if os.Geteuid() == 0 {
		// initdb refuses root: run the server as the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "running as root and there is no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(base, 0o755)
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	p.run("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *pgServer) run(prog string, args ...string) {
	p.t.Helper()
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(p.bin, prog)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func (p *pgServer) start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-l", filepath.Join(filepath.Dir(p.dir), "pg.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", p.port, filepath.Dir(p.dir)), "start")
}

func (p *pgServer) stop() {
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(p.bin, "pg_ctl")), "-D", p.dir, "-m", "immediate", "-w", "stop")
	exec.Command(argv[0], argv[1:]...).Run()
}

func (p *pgServer) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}
