//go:build pitr

// The point-in-time restore rehearsal: real PostgreSQL, the real pgBackRest
// and an S3 endpoint (moto's server over TLS) on loopback. It renders the
// host's pgbackrest.conf and archive settings with this package and runs
// the host's own tsa-pitr.sh; only what differs off AWS (endpoint,
// credentials, paths, port) is overridden through PGBACKREST_* variables.
//
// Run it with rehearse-pitr.sh (which installs what it needs), or:
//
//	go test -tags pitr -run TestPITRRehearsal -v ./constructs/timescaledb
package timescaledb

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const rehearsalBucket = "tsa-rehearsal-archive"

// rehearsal is one run: a scratch directory, the S3 server and the
// environment every pgBackRest call (and each postmaster) gets.
type rehearsal struct {
	t      *testing.T
	dir    string
	bin    string // PostgreSQL binaries
	owner  string // OS user owning the clusters ("" when not root)
	pgPort int
	s3Port int
	env    []string
	pitr   string // the host's tsa-pitr.sh, unpacked
}

func TestPITRRehearsal(t *testing.T) {
	started := time.Now()
	r := newRehearsal(t)
	r.startS3()

	a := filepath.Join(r.dir, "cluster-a")
	r.initCluster(a)
	r.pgCtl(a, "start")
	r.backrest(a, "stanza-create")
	r.backrest(a, "check")
	r.sql(`CREATE TABLE readings (id int PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())`)

	insert := func(from, to int) {
		for id := from; id <= to; id++ { // one transaction each
			r.sql(fmt.Sprintf("INSERT INTO readings (id) VALUES (%d)", id))
		}
	}
	insert(1, 3)
	r.pitrScript(a, "backup", "full")
	insert(4, 6)
	r.pitrScript(a, "backup", "diff")
	insert(7, 9)
	// Commit times are microseconds; the target has whole seconds. A second
	// on either side keeps rows 1-9 before it and 10-12 after it.
	time.Sleep(1100 * time.Millisecond)
	target := r.sql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'`)
	time.Sleep(1100 * time.Millisecond)
	insert(10, 12)
	if got := r.sql(`SELECT string_agg(id::text, ',' ORDER BY id) FROM readings`); got != "1,2,3,4,5,6,7,8,9,10,11,12" {
		t.Fatalf("before the restore the cluster holds %s", got)
	}
	// Forces a WAL switch and waits until the segment is in the bucket.
	r.backrest(a, "check")

	// What the host publishes every minute (the alarms' inputs).
	m := r.metrics(a)
	if m["PostgresUp"] != 1 || m["ArchiveLagSeconds"] >= 60 || m["BackupAgeHours"] != 0 {
		t.Errorf("metrics of a healthy, archived, freshly backed-up cluster: %v", m)
	}

	// The source is gone (as the old host is in a restore), so nothing but
	// the bucket can supply the data.
	r.pgCtl(a, "stop")
	if m := r.metrics(a); m["PostgresUp"] != 0 {
		t.Errorf("PostgresUp of a stopped cluster: %v", m)
	}
	if out, err := r.pitrScriptErr(a, "restore", target); err == nil {
		t.Errorf("restore over an existing cluster must fail:\n%s", out)
	}
	b := filepath.Join(r.dir, "cluster-b")
	r.pitrScript(b, "restore", target)
	r.pgCtl(b, "start")
	r.waitPromoted()

	if got := r.sql(`SELECT string_agg(id::text, ',' ORDER BY id) FROM readings`); got != "1,2,3,4,5,6,7,8,9" {
		t.Errorf("restored to %s: want exactly the rows committed before it (1-9), got %s", target, got)
	}
	if wal := r.sql(`SELECT pg_walfile_name(pg_current_wal_lsn())`); !strings.HasPrefix(wal, "00000002") {
		t.Errorf("the restored cluster must continue on a new timeline, writes %s", wal)
	}
	// The restored cluster archives again (onto its new timeline).
	r.backrest(b, "check")
	r.pgCtl(b, "stop")
	t.Logf("rehearsal took %s (pgBackRest %s, %s)", time.Since(started).Round(100*time.Millisecond),
		strings.TrimSpace(r.run("", "pgbackrest", "version")), strings.TrimSpace(r.run("", filepath.Join(r.bin, "postgres"), "--version")))
}

func newRehearsal(t *testing.T) *rehearsal {
	r := &rehearsal{t: t, pgPort: freePort(t), s3Port: freePort(t)}
	r.bin = postgresBin(t)
	for _, tool := range []string{"pgbackrest", "jq", motoPython()} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed; run constructs/timescaledb/rehearse-pitr.sh, which installs it", tool)
		}
	}
	dir, err := os.MkdirTemp("", "tsa-pitr-")
	if err != nil {
		t.Fatal(err)
	}
	r.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Getuid() == 0 {
		// initdb refuses root; the clusters belong to postgres, as on the host.
		r.owner = "postgres"
		u, err := user.Lookup(r.owner)
		if err != nil {
			t.Fatalf("running as root needs the postgres user (the PostgreSQL package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	// The host's files, rendered as for an environment.
	b := Bootstrap{
		PostgresMajor: 17, PostgresMinor: 9, TimescaleVersion: "2.22.1",
		VolumeID: "vol-0123456789abcdef0", SecretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rehearsal-AbCdEf",
		ArchiveBucket: rehearsalBucket, Region: "eu-west-1", URLSuffix: "amazonaws.com",
		DatabaseName: "tsa", Port: r.pgPort, ClientCidr: "10.10.0.0/16", DNSName: "timescaledb.tsa-rehearsal.internal",
		AgentConfigParameter: "/tsa/rehearsal/agent", CAParameter: "/tsa/rehearsal/database/timescaledb-ca", StackName: "tsa-rehearsal-data", LogicalID: "TimescaleInstance",
		Pitr: Pitr{RetentionDays: 7, FullBackupWeekday: "Sun", BackupHourUtc: 2},
	}
	conf, err := PgBackRestConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	r.write("pgbackrest.conf", conf, 0o644)
	files, err := PayloadFiles(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Name == "tsa-pitr.sh" || f.Name == "archive.conf" {
			r.write(f.Name, f.Content, os.FileMode(f.Mode))
		}
	}
	r.pitr = filepath.Join(dir, "tsa-pitr.sh")
	for _, sub := range []string{"spool", "log", "lock", "state"} {
		r.mkdir(filepath.Join(dir, sub))
	}
	r.writeCertificate()
	r.env = []string{
		"PGBACKREST_CONFIG=" + filepath.Join(dir, "pgbackrest.conf"),
		// What differs from AWS: moto on loopback with its own certificate,
		// static test credentials, path-style addressing.
		"PGBACKREST_REPO1_S3_ENDPOINT=localhost",
		"PGBACKREST_REPO1_STORAGE_PORT=" + strconv.Itoa(r.s3Port),
		"PGBACKREST_REPO1_STORAGE_CA_FILE=" + filepath.Join(dir, "s3.crt"),
		"PGBACKREST_REPO1_S3_URI_STYLE=path",
		"PGBACKREST_REPO1_S3_KEY_TYPE=shared",
		"PGBACKREST_REPO1_S3_KEY=rehearsal",
		"PGBACKREST_REPO1_S3_KEY_SECRET=rehearsal",
		// Scratch locations instead of /var.
		"PGBACKREST_SPOOL_PATH=" + filepath.Join(dir, "spool"),
		"PGBACKREST_LOG_PATH=" + filepath.Join(dir, "log"),
		"PGBACKREST_LOCK_PATH=" + filepath.Join(dir, "lock"),
		"PGBACKREST_PG1_SOCKET_PATH=" + dir,
		"PGBACKREST_PG1_PORT=" + strconv.Itoa(r.pgPort),
		// tsa-pitr.sh: no host environment file, the scratch cluster.
		"TSA_ENV_FILE=/nonexistent",
		"TSA_STATE=" + filepath.Join(dir, "state"),
		"TSA_METRICS_TO=print",
		"PGBIN=" + r.bin,
		"PGHOST=" + dir,
		"DB_PORT=" + strconv.Itoa(r.pgPort),
	}
	t.Cleanup(func() {
		if t.Failed() {
			r.dumpLogs()
		}
	})
	return r
}

// startS3 runs moto's S3 server on loopback behind a TLS front (pgBackRest
// speaks to S3 over TLS only; Go's TLS server closes connections the way
// OpenSSL 3 expects, which moto's development server does not) and creates a
// versioned bucket, as the data stack's archive bucket is.
func (r *rehearsal) startS3() {
	t := r.t
	motoPort := freePort(t)
	cmd := exec.Command(motoPython(), "-m", "moto.server", "-H", "127.0.0.1", "-p", strconv.Itoa(motoPort))
	logFile, err := os.Create(filepath.Join(r.dir, "moto.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("moto's server does not start (%s -m moto.server): %v", motoPython(), err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})

	cert, err := tls.LoadX509KeyPair(filepath.Join(r.dir, "s3.crt"), filepath.Join(r.dir, "s3.key"))
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", r.s3Port))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", motoPort)})
	proxy.ErrorLog = log.New(logFile, "tls-front: ", 0)
	front := &http.Server{
		Handler:   proxy,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ErrorLog:  proxy.ErrorLog,
	}
	go func() { _ = front.ServeTLS(listener, "", "") }()
	t.Cleanup(func() { _ = front.Close() })

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(r.dir, "s3.crt"))
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	base := fmt.Sprintf("https://localhost:%d/%s", r.s3Port, rehearsalBucket)
	put := func(url, body string) error {
		req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("PUT %s: %s", url, resp.Status)
		}
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := put(base, `<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto's S3 server did not come up on 127.0.0.1:%d: %v", motoPort, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := put(base+"?versioning", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`); err != nil {
		t.Fatal(err)
	}
}

// initCluster creates a cluster with the host's archive settings (the same
// archive.conf the bootstrap writes into tsa.conf).
func (r *rehearsal) initCluster(pgdata string) {
	r.run("", filepath.Join(r.bin, "initdb"), "-D", pgdata, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
	archive, err := os.ReadFile(filepath.Join(r.dir, "archive.conf"))
	if err != nil {
		r.t.Fatal(err)
	}
	settings := fmt.Sprintf("\n# rehearsal\nlisten_addresses = ''\nport = %d\nunix_socket_directories = '%s'\nfsync = off\n%s", r.pgPort, r.dir, archive)
	f, err := os.OpenFile(filepath.Join(pgdata, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(settings); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rehearsal) pgCtl(pgdata, action string) {
	args := []string{"-D", pgdata, "-w", "-t", "120", "-l", pgdata + ".log", action}
	if action == "stop" {
		args = append(args, "-m", "fast")
	}
	r.run(pgdata, filepath.Join(r.bin, "pg_ctl"), args...)
}

func (r *rehearsal) backrest(pgdata, command string) string {
	return r.run(pgdata, "pgbackrest", "--stanza="+Stanza, "--log-level-console=warn", command)
}

func (r *rehearsal) pitrScript(pgdata string, args ...string) string {
	out, err := r.pitrScriptErr(pgdata, args...)
	if err != nil {
		r.t.Fatalf("tsa-pitr.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// pitrScriptErr runs the host's tsa-pitr.sh as the host does (as root when
// the rehearsal is root: the script drops to the cluster's owner itself).
func (r *rehearsal) pitrScriptErr(pgdata string, args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{r.pitr}, args...)...)
	cmd.Env = append(os.Environ(), append(r.env, "PGDATA="+pgdata, "PGBACKREST_PG1_PATH="+pgdata)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// metrics runs tsa-pitr.sh metrics, printing instead of publishing.
func (r *rehearsal) metrics(pgdata string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.pitrScript(pgdata, "metrics")), "\n") {
		name, value, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(value)
		if err != nil {
			r.t.Fatalf("metric line %q", line)
		}
		out[name] = n
	}
	return out
}

func (r *rehearsal) sql(query string) string {
	return strings.TrimSpace(r.run("", filepath.Join(r.bin, "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
		"-h", r.dir, "-p", strconv.Itoa(r.pgPort), "-U", "postgres", "-d", "postgres", "-c", query))
}

func (r *rehearsal) waitPromoted() {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if r.sql("SELECT pg_is_in_recovery()") == "f" {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.t.Fatal("the restored cluster did not reach its target and promote within 2 minutes")
}

// run runs a command as the clusters' owner with the rehearsal's
// environment; pgdata, when set, is the cluster pgBackRest and archive
// commands of that postmaster work on.
func (r *rehearsal) run(pgdata, name string, args ...string) string {
	r.t.Helper()
	if r.owner != "" {
		args = append([]string{"-u", r.owner, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	if pgdata != "" {
		cmd.Env = append(cmd.Env, "PGBACKREST_PG1_PATH="+pgdata)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (r *rehearsal) write(name, content string, mode os.FileMode) {
	path := filepath.Join(r.dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rehearsal) mkdir(path string) {
	if err := os.Mkdir(path, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if r.owner != "" {
		u, _ := user.Lookup(r.owner)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(path, uid, gid); err != nil {
			r.t.Fatal(err)
		}
	}
}

// writeCertificate makes the TLS certificate moto serves: pgBackRest talks
// to S3 over TLS only, and verifies it against this file.
func (r *rehearsal) writeCertificate() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		r.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		r.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		r.t.Fatal(err)
	}
	r.write("s3.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), 0o644)
	r.write("s3.key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})), 0o600)
}

func (r *rehearsal) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(r.dir, "*.log"))
	more, _ := filepath.Glob(filepath.Join(r.dir, "log", "*.log"))
	for _, path := range append(logs, more...) {
		data, _ := os.ReadFile(path)
		if len(data) > 6000 {
			data = data[len(data)-6000:]
		}
		r.t.Logf("---- %s (tail)\n%s", path, data)
	}
}

// motoPython is the Python that runs moto's server (TSA_MOTO_PYTHON, set by
// rehearse-pitr.sh, or python3).
func motoPython() string {
	if py := os.Getenv("TSA_MOTO_PYTHON"); py != "" {
		return py
	}
	return "python3"
}

// postgresBin is PG_BINDIR or the newest installed PostgreSQL.
func postgresBin(t *testing.T) string {
	if dir := os.Getenv("PG_BINDIR"); dir != "" {
		return dir
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a < b
	})
	if len(dirs) == 0 {
		t.Fatal("no PostgreSQL server under /usr/lib/postgresql; run constructs/timescaledb/rehearse-pitr.sh, which installs it")
	}
	return dirs[len(dirs)-1]
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
