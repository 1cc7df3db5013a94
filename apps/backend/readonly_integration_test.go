package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Issue #12, 6: the container runs with a read-only root filesystem. This
// runs the static binary the image ships (CGO_ENABLED=0), -migrate and the
// server, in a private mount namespace whose root is remounted read-only
// (/tmp included: it is on the root filesystem here, and the app must not
// need the tmpfs either), and drives a write, a read, the deep health check
// and -healthcheck. Needs root (CAP_SYS_ADMIN for the mount namespace).
func TestIntegrationReadOnlyRootFS(t *testing.T) {
	if os.Getenv(testDBEnv) == "" {
		t.Skipf("skipping integration test: set %s or run scripts/integration-test.sh", testDBEnv)
	}
	unshare, err := exec.LookPath("unshare")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("skipping: needs root and unshare(1) to mount the root filesystem read-only in a private namespace")
	}
	bin := filepath.Join(t.TempDir(), "app")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// readOnly runs bin in a new mount namespace with / remounted read-only,
	// after checking that a write to / really fails there.
	readOnly := func(env []string, args ...string) *exec.Cmd {
		script := `mount -o remount,bind,ro / || exit 98
if touch /.tsa-ro-probe 2>/dev/null; then rm -f /.tsa-ro-probe; exit 99; fi
exec "$0" "$@"`
		cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "sh", "-c", script, bin}, args...)...)
		cmd.Env = env
		return cmd
	}
	if out, err := readOnly(nil, "-h").CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 98 {
			t.Skipf("skipping: cannot remount / read-only here: %s", out)
		}
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 99 {
			t.Fatal("/ is still writable after the read-only remount")
		}
		if !strings.Contains(string(out), "-migrate") {
			t.Fatalf("run in a read-only namespace: %v\n%s", err, out)
		}
	}

	cfg, _ := migrateSetup(t)
	base := []string{"PATH=" + os.Getenv("PATH"), "APP_ENV=it", "DB_HOST=" + cfg.DBHost, "DB_PORT=" + strconv.Itoa(cfg.DBPort),
		"DB_NAME=" + cfg.DBName, "DB_SSLMODE=disable", "DATA_RETENTION=3d"}
	migrateEnv := append(base, "DB_USER="+cfg.DBUser, "DB_PASSWORD="+cfg.DBPassword,
		"MIGRATOR_USER="+cfg.MigratorUser, "MIGRATOR_PASSWORD="+cfg.MigratorPassword, "APP_USER="+cfg.AppUser, "APP_PASSWORD="+cfg.AppPassword)
	if out, err := readOnly(migrateEnv, "-migrate").CombinedOutput(); err != nil {
		t.Fatalf("-migrate with a read-only root: %v\n%s", err, out)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	serverEnv := append(base, "PORT="+port, "DB_USER="+cfg.AppUser, "DB_PASSWORD="+cfg.AppPassword, "API_KEY=ro-key")
	var logs bytes.Buffer
	server := readOnly(serverEnv)
	server.Stdout, server.Stderr = &logs, &logs
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- server.Wait() }()
	t.Cleanup(func() {
		_ = server.Process.Kill()
	})

	url := "http://127.0.0.1:" + port
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("X-Api-Key", "ro-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	now := time.Now().UTC()
	write := fmt.Sprintf(`{"name":"ro","points":[{"time":%q,"value":4}]}`, now.Add(-time.Minute).Format(time.RFC3339))
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ := do("POST", "/api/series", write)
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never accepted a write (last status %d); log:\n%s", code, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	q := fmt.Sprintf("/api/series?name=ro&from=%s&to=%s&bucket=1h", now.Add(-time.Hour).Format(time.RFC3339), now.Format(time.RFC3339))
	if code, body := do("GET", q, ""); code != 200 || !strings.Contains(body, `"count":1`) {
		t.Errorf("read: %d %s", code, body)
	}
	if code, body := do("GET", "/api/health/deep", ""); code != 200 {
		t.Errorf("deep health: %d %s", code, body)
	}
	if out, err := readOnly(append(base, "PORT="+port), "-healthcheck").CombinedOutput(); err != nil {
		t.Errorf("-healthcheck with a read-only root: %v\n%s", err, out)
	}

	_ = server.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatalf("server did not stop after SIGTERM; log:\n%s", logs.String())
	}
	for _, bad := range []string{"read-only file system", `"level":"ERROR"`} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("server log mentions %q:\n%s", bad, logs.String())
		}
	}
}
