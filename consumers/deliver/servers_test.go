package deliver

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shardscope/shardscope/api/remote/remotetest"
)

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
		remotetest.Unavailable(t, "PostgreSQL's server programs are not installed (apt-get install postgresql)")
	}
	p := &pgServer{t: t, bin: filepath.Dir(bins[len(bins)-1]), port: remotetest.FreePort(t)}
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
			remotetest.Unavailable(t, "running as root and there is no postgres user: %v", err)
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
