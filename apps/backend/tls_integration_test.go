package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// enableServerTLS turns TLS on in the test server with a certificate from ca
// for DNS name "localhost" only (no IP address), and turns it off again after
// the test. The files are written by the server itself (COPY ... TO PROGRAM,
// into its data directory), so they belong to the server's user whatever user
// runs the tests; ssl settings take effect on a configuration reload.
func enableServerTLS(t *testing.T, admin *pgx.Conn, ca *testCA) {
	t.Helper()
	ctx := context.Background()
	var super bool
	if err := admin.QueryRow(ctx, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil || !super {
		t.Skip("skipping: turning TLS on in the test server needs a superuser")
	}
	var dataDir string
	if err := admin.QueryRow(ctx, `SHOW data_directory`).Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	cert, key := ca.issue(t, []string{"localhost"}, nil)
	if strings.ContainsAny(dataDir, `'"\$`+"`") {
		t.Skipf("skipping: unusual data directory path %q", dataDir)
	}
	for name, content := range map[string]string{"tsa_test_server.crt": cert, "tsa_test_server.key": key} {
		// One row per PEM line: base64 lines need no escaping in COPY's text
		// format. Through a shell with umask 077, because the server refuses a
		// key file that others can read (COPY ... TO 'file' creates 0644).
		if _, err := admin.Exec(ctx, `COPY (SELECT unnest(string_to_array(rtrim($$`+content+`$$, E'\n'), E'\n'))) TO PROGRAM 'umask 077 && cat > "`+dataDir+"/"+name+`"'`); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	reload := func(stmts ...string) {
		for _, s := range stmts {
			if _, err := admin.Exec(ctx, s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		if _, err := admin.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		reload(`ALTER SYSTEM RESET ssl`, `ALTER SYSTEM RESET ssl_cert_file`, `ALTER SYSTEM RESET ssl_key_file`)
	})
	reload(`ALTER SYSTEM SET ssl_cert_file = 'tsa_test_server.crt'`, `ALTER SYSTEM SET ssl_key_file = 'tsa_test_server.key'`, `ALTER SYSTEM SET ssl = on`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var on string
		if err := admin.QueryRow(ctx, `SHOW ssl`).Scan(&on); err == nil && on == "on" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the test server did not turn TLS on (see its log)")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Issue #12, 2: verify-full against a server whose certificate comes from a
// CA generated here: the right CA and host connect (over TLS); a host the
// certificate does not name (the same server reached as 127.0.0.1) or a wrong
// CA are refused.
func TestIntegrationVerifiedTLS(t *testing.T) {
	url := os.Getenv(testDBEnv)
	if url == "" {
		t.Skipf("skipping integration test: set %s or run scripts/integration-test.sh", testDBEnv)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(ctx) }) // after enableServerTLS's clean-up, which uses it
	ca := newTestCA(t, "tsa test CA")
	enableServerTLS(t, admin, ca)
	if addrs, err := net.LookupHost("localhost"); err != nil || len(addrs) == 0 {
		t.Skipf("skipping: localhost does not resolve here (%v)", err)
	}

	ac := admin.Config()
	wrongCA := newTestCA(t, "some other CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(ca.CertPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(t.TempDir(), "wrong.pem")
	if err := os.WriteFile(wrongFile, []byte(wrongCA.CertPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(host, mode string, extra map[string]string) map[string]string {
		m := map[string]string{
			"APP_ENV": "it", "DB_HOST": host, "DB_PORT": strconv.Itoa(int(ac.Port)), "DB_NAME": ac.Database,
			"DB_USER": ac.User, "DB_PASSWORD": ac.Password, "DB_SSLMODE": mode,
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string // "" = must connect over TLS
	}{
		{"verify-full, CA from DB_SSLROOTCERT_PEM", env("localhost", "verify-full", map[string]string{"DB_SSLROOTCERT_PEM": ca.CertPEM}), ""},
		{"verify-full, CA from the DB_SSLROOTCERT file", env("localhost", "verify-full", map[string]string{"DB_SSLROOTCERT": caFile}), ""},
		{"the PEM wins over the file", env("localhost", "verify-full", map[string]string{"DB_SSLROOTCERT": wrongFile, "DB_SSLROOTCERT_PEM": ca.CertPEM}), ""},
		{"verify-full, wrong host name", env("127.0.0.1", "verify-full", map[string]string{"DB_SSLROOTCERT_PEM": ca.CertPEM}), "cannot validate certificate for 127.0.0.1"},
		{"verify-full, wrong CA", env("localhost", "verify-full", map[string]string{"DB_SSLROOTCERT_PEM": wrongCA.CertPEM}), "unknown authority"},
		{"verify-ca accepts another host name", env("127.0.0.1", "verify-ca", map[string]string{"DB_SSLROOTCERT_PEM": ca.CertPEM}), ""},
		{"verify-ca, wrong CA", env("127.0.0.1", "verify-ca", map[string]string{"DB_SSLROOTCERT_PEM": wrongCA.CertPEM}), "unknown authority"},
		{"require encrypts without verifying", env("127.0.0.1", "require", nil), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadConfig(envFrom(c.env), ModeServe)
			if err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			pool, err := newPool(cctx, cfg, 1, "it-tls")
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var ssl bool
			var version string
			err = pool.QueryRow(cctx, `SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl, &version)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("connect: %v", err)
			case c.wantErr == "" && !ssl:
				t.Fatal("connected without TLS")
			case c.wantErr != "" && err == nil:
				t.Fatalf("connected (TLS %v %s), want a failure mentioning %q", ssl, version, c.wantErr)
			case c.wantErr != "" && !strings.Contains(err.Error(), c.wantErr):
				t.Fatalf("error %v does not mention %q", err, c.wantErr)
			}
		})
	}
}
