package distributed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres is returned when no PostgreSQL server binaries (initdb,
// pg_ctl, pg_basebackup) are installed; deploy/local/ensure-services.sh
// installs Debian's postgresql package, which has them.
var ErrNoPostgres = errors.New("distributed: PostgreSQL server binaries not found (install postgresql: deploy/local/ensure-services.sh)")

// FindPostgresBin is the bin directory of the newest PostgreSQL under
// /usr/lib/postgresql (Debian's layout) that has initdb, pg_ctl and
// pg_basebackup.
func FindPostgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if hasPostgresTools(d) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasPostgresTools(dir string) bool {
	for _, b := range []string{"initdb", "pg_ctl", "pg_basebackup", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return false
		}
	}
	return true
}

// pgCluster is one PostgreSQL cluster of the drill: a data directory of
// its own, listening on 127.0.0.1 on a port of its own, run by pg_ctl.
type pgCluster struct {
	name     string // "primary" or "dr", also its application_name
	bin      string
	dir      string // data directory
	sockDir  string
	logFile  string
	port     int
	user     string
	password string
	// cred runs the server binaries as the postgres user when the drill
	// runs as root (PostgreSQL refuses to run as root); nil otherwise.
	cred *syscall.Credential
}

// drillRole is the clusters' superuser (and replication user).
const drillRole = "drill"

// pgRunAs is the user the clusters run as: the current one, or Debian's
// postgres user when that is root.
func pgRunAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs another user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// chown gives path to the clusters' user (a no-op when not root).
func chown(cred *syscall.Credential, path string) error {
	if cred == nil {
		return nil
	}
	return os.Chown(path, int(cred.Uid), int(cred.Gid))
}

// run runs a PostgreSQL binary as the clusters' user.
func (c *pgCluster) run(ctx context.Context, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Env = append(processEnv(nil), env...)
	cmd.Dir = filepath.Dir(c.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s (%s): %w\n%s", name, strings.Join(args[:min(1, len(args))], " "), c.name, err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}

// newPGCluster prepares (but does not create) a cluster under root.
func newPGCluster(root, name, bin, password string, cred *syscall.Credential) (*pgCluster, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(root, "pg-"+name)
	if err := os.Mkdir(base, 0o700); err != nil {
		return nil, err
	}
	if err := chown(cred, base); err != nil {
		return nil, err
	}
	return &pgCluster{
		name: name, bin: bin, dir: filepath.Join(base, "data"), sockDir: base, logFile: filepath.Join(base, "postgres.log"),
		port: port, user: drillRole, password: password, cred: cred,
	}, nil
}

// initPrimary runs initdb and writes the settings a primary with a
// standby needs. With archiveDir it also archives every finished WAL
// segment there (and one at least every archiveTimeout), as
// CloudNativePG archives to the object store the DR site restores from.
func (c *pgCluster) initPrimary(ctx context.Context, archiveDir, archiveTimeout string) error {
	pwfile := filepath.Join(filepath.Dir(c.dir), "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return err
	}
	if err := chown(c.cred, pwfile); err != nil {
		return err
	}
	err := c.run(ctx, nil, "initdb", "-D", c.dir, "-U", c.user, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale")
	_ = os.Remove(pwfile)
	if err != nil {
		return err
	}
	// Replication over TCP from 127.0.0.1 is in initdb's pg_hba.conf
	// already ("host replication all 127.0.0.1/32").
	conf := fmt.Sprintf(`
# tamkeen dr-drill
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 200
wal_level = replica
max_wal_senders = 5
synchronous_commit = on
`, c.port, c.sockDir)
	if archiveDir != "" {
		conf += fmt.Sprintf("archive_mode = on\narchive_command = 'test ! -f %[1]s/%%f && cp %%p %[1]s/%%f'\narchive_timeout = '%[2]s'\n", archiveDir, archiveTimeout)
	}
	return c.appendConf("postgresql.conf", conf)
}

// initStandby copies primary with pg_basebackup. Without archiveDir it
// streams from the primary (-R: standby.signal and primary_conninfo) and
// names itself to it as c.name, the name synchronous_standby_names lists.
// With archiveDir it does not stream: it replays the WAL segments the
// primary archives there (restore_command), as a CloudNativePG replica
// cluster replays the replicated object store.
func (c *pgCluster) initStandby(ctx context.Context, primary *pgCluster, archiveDir string) error {
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s application_name=%s", primary.port, primary.user, c.name)
	args := []string{"-D", c.dir, "-d", conninfo, "-X", "stream", "-c", "fast"}
	if archiveDir == "" {
		args = append(args, "-R")
	}
	if err := c.run(ctx, []string{"PGPASSWORD=" + primary.password}, "pg_basebackup", args...); err != nil {
		return err
	}
	// The base backup copied the primary's port and socket directory;
	// the later lines win. It archives nothing itself until promoted.
	if err := c.appendConf("postgresql.conf", fmt.Sprintf("\nport = %d\nunix_socket_directories = '%s'\narchive_mode = off\n", c.port, c.sockDir)); err != nil {
		return err
	}
	if archiveDir != "" {
		signal := filepath.Join(c.dir, "standby.signal")
		if err := os.WriteFile(signal, nil, 0o600); err != nil {
			return err
		}
		if err := chown(c.cred, signal); err != nil {
			return err
		}
		return c.appendConf("postgresql.auto.conf", fmt.Sprintf("restore_command = 'cp %s/%%f %%p'\n", archiveDir))
	}
	// primary_conninfo carries the password in the standby's own (0700)
	// data directory, as -R would.
	return c.appendConf("postgresql.auto.conf", fmt.Sprintf("primary_conninfo = '%s password=%s'\n", conninfo, primary.password))
}

// archiveNow ends the current WAL segment and waits until the archiver
// has copied it: what is committed so far reaches the archive (and so the
// standby), as after a scheduled archive.
func (c *pgCluster) archiveNow(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var segment string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&segment); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var last *string
		if err := conn.QueryRow(ctx, "SELECT last_archived_wal FROM pg_stat_archiver").Scan(&last); err != nil {
			return err
		}
		if last != nil && *last >= segment {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WAL segment %s not archived after 60 s", segment)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// newArchiveDir makes the directory standing for the replicated object
// store, writable by the clusters' user.
func newArchiveDir(root string, cred *syscall.Credential) (string, error) {
	dir := filepath.Join(root, "wal-archive")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", err
	}
	return dir, chown(cred, dir)
}

func (c *pgCluster) appendConf(file, text string) error {
	f, err := os.OpenFile(filepath.Join(c.dir, file), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (c *pgCluster) start(ctx context.Context) error {
	return c.run(ctx, nil, "pg_ctl", "start", "-D", c.dir, "-l", c.logFile, "-w", "-t", "60")
}

// stopImmediate is the primary's "power cut": the postmaster and every
// backend exit at once, without a checkpoint.
func (c *pgCluster) stopImmediate(ctx context.Context) error {
	return c.run(ctx, nil, "pg_ctl", "stop", "-D", c.dir, "-m", "immediate", "-w", "-t", "30")
}

// promote ends recovery on a standby; -w waits until it accepts writes.
func (c *pgCluster) promote(ctx context.Context) error {
	return c.run(ctx, nil, "pg_ctl", "promote", "-D", c.dir, "-w", "-t", "60")
}

// URL is a connection URL for database db (the admin URL with "postgres").
func (c *pgCluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.user, c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// exec runs one statement on the cluster's postgres database.
func (c *pgCluster) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// makeSynchronous lists standby as the primary's synchronous standby and
// waits until the primary reports it streaming in sync: from then on a
// COMMIT returns only once the standby has the WAL on disk.
func (c *pgCluster) makeSynchronous(ctx context.Context, standby string) error {
	if err := c.exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+pgx.Identifier{standby}.Sanitize()); err != nil {
		return err
	}
	if err := c.exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var state string
		err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", standby).Scan(&state)
		if err == nil && state == "sync" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("standby %s is not a streaming synchronous standby after 60 s (sync_state %q, %v)", standby, state, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// destroy stops the cluster if it runs and removes its files.
func (c *pgCluster) destroy(ctx context.Context) {
	if c == nil {
		return
	}
	if _, err := os.Stat(filepath.Join(c.dir, "postmaster.pid")); err == nil {
		_ = c.stopImmediate(ctx)
	}
	_ = os.RemoveAll(filepath.Dir(c.dir))
}

// freePort is a TCP port on 127.0.0.1 nothing listens on now.
func freePort() (int, error) {
	a, err := freeAddr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(a)
	return strconv.Atoi(p)
}

// randomHex is n random bytes in hex (the clusters' password).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
