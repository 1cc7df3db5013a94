package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The integration tests need a PostgreSQL 14+ server (date_bin) reachable via
// TSA_TEST_DATABASE_URL as a role that may CREATE DATABASE; each test runs in
// its own throw-away database. scripts/integration-test.sh provides one.
const testDBEnv = "TSA_TEST_DATABASE_URL"

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
}

// freshDB creates an empty database and returns a pool connected to it.
func freshDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv(testDBEnv)
	if url == "" {
		t.Skipf("skipping integration test: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) or run scripts/integration-test.sh", testDBEnv)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", testDBEnv, err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("tsa_it_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database (the role needs CREATEDB): %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Logf("cleanup connect: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database: %v", err)
		}
	})

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Database = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	var version int
	if err := pool.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 140000 {
		t.Fatalf("PostgreSQL 14+ required for date_bin, server is %d", version)
	}
	return pool
}

func mustBootstrap(t *testing.T, pool *pgxpool.Pool, opts BootstrapOptions) BootstrapResult {
	t.Helper()
	res, err := Bootstrap(context.Background(), pool, opts, testLogger(t))
	if err != nil {
		t.Fatalf("Bootstrap(%+v): %v", opts, err)
	}
	return res
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// insertAndCheck writes a known data set and checks the aggregates per bucket size.
func insertAndCheck(t *testing.T, store Store, base time.Time) {
	t.Helper()
	ctx := context.Background()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	n, err := store.Insert(ctx, "cpu", []Point{
		{at(0), 1},
		{at(30 * time.Second), 3},
		{at(70 * time.Second), 5},
		{at(5 * time.Minute), 10},
		{at(10 * time.Minute), 99}, // exactly at "to": excluded
	})
	if err != nil || n != 5 {
		t.Fatalf("Insert: n=%d err=%v", n, err)
	}
	if _, err := store.Insert(ctx, "mem", []Point{{at(0), 1000}}); err != nil {
		t.Fatalf("Insert other series: %v", err)
	}

	type want struct {
		off           time.Duration
		avg, min, max float64
		count         int64
	}
	check := func(bucket time.Duration, wants []want) {
		t.Helper()
		got, err := store.Aggregate(ctx, "cpu", base, at(10*time.Minute), bucket)
		if err != nil {
			t.Fatalf("Aggregate(%v): %v", bucket, err)
		}
		if len(got) != len(wants) {
			t.Fatalf("Aggregate(%v): %d buckets %+v, want %d", bucket, len(got), got, len(wants))
		}
		for i, w := range wants {
			g := got[i]
			if !g.Time.Equal(at(w.off)) || math.Abs(g.Avg-w.avg) > 1e-9 || g.Min != w.min || g.Max != w.max || g.Count != w.count {
				t.Errorf("Aggregate(%v)[%d] = %+v, want %+v at %v", bucket, i, g, w, at(w.off))
			}
		}
	}
	check(time.Minute, []want{
		{0, 2, 1, 3, 2},
		{time.Minute, 5, 5, 5, 1},
		{5 * time.Minute, 10, 10, 10, 1},
	})
	check(5*time.Minute, []want{
		{0, 3, 1, 5, 3},
		{5 * time.Minute, 10, 10, 10, 1},
	})
	check(time.Hour, []want{{0, 19.0 / 4, 1, 10, 4}})

	got, err := store.Aggregate(ctx, "nothing", base, at(time.Hour), time.Minute)
	if err != nil || len(got) != 0 {
		t.Fatalf("unknown series: %v %v", got, err)
	}
}

func relkind(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var k string
	if err := pool.QueryRow(context.Background(), `SELECT relkind::text FROM pg_class WHERE oid = 'measurements'::regclass`).Scan(&k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIntegrationPlain(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPlain})
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPlain}) // idempotent
	if k := relkind(t, pool); k != "r" {
		t.Fatalf("plain mode relkind = %q, want r", k)
	}
	insertAndCheck(t, NewPGStore(pool, nil), ts("2024-03-10T10:00:00Z"))
}

func TestIntegrationPartmanFallback(t *testing.T) {
	pool := freshDB(t)
	opts := BootstrapOptions{Mode: SchemaPartman, DisablePartman: true}
	res := mustBootstrap(t, pool, opts)
	mustBootstrap(t, pool, opts)
	if res.PartmanSchema != "" {
		t.Fatalf("fallback must not report pg_partman, got %q", res.PartmanSchema)
	}
	if k := relkind(t, pool); k != "p" {
		t.Fatalf("partman mode relkind = %q, want p (partitioned)", k)
	}
	var hasDefault bool
	if err := pool.QueryRow(context.Background(), `SELECT to_regclass('measurements_default') IS NOT NULL`).Scan(&hasDefault); err != nil || !hasDefault {
		t.Fatalf("default partition missing: %v", err)
	}
	insertAndCheck(t, NewPGStore(pool, nil), ts("2024-03-10T10:00:00Z"))
	var inDefault int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM measurements_default`).Scan(&inDefault); err != nil || inDefault != 6 {
		t.Fatalf("rows in default partition = %d (%v), want 6", inDefault, err)
	}
}

func TestIntegrationPartmanExtension(t *testing.T) {
	pool := freshDB(t)
	ctx := context.Background()
	var available bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman')`).Scan(&available); err != nil {
		t.Fatal(err)
	}
	if !available {
		t.Skip("skipping: pg_partman is not installed on the test server (Debian: postgresql-NN-partman)")
	}
	res := mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman})
	if res.PartmanSchema == "" {
		t.Fatal("pg_partman is available but measurements was not registered")
	}
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman})
	var children int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'measurements'::regclass`).Scan(&children); err != nil {
		t.Fatal(err)
	}
	if children < 3 {
		t.Fatalf("expected daily partitions plus default, got %d children", children)
	}
	// Recent data lands in daily partitions, old data in the default partition.
	insertAndCheck(t, NewPGStore(pool, nil), time.Now().UTC().Truncate(time.Hour))
	insertAndCheck(t, NewPGStore(pool, nil), ts("2020-01-01T00:00:00Z"))
	q := `SELECT ` + pgx.Identifier{res.PartmanSchema}.Sanitize() + `.run_maintenance(p_parent_table := $1)`
	if _, err := pool.Exec(ctx, q, res.ParentTable); err != nil {
		t.Fatalf("run_maintenance: %v", err)
	}
}

func TestIntegrationTimescaleDB(t *testing.T) {
	pool := freshDB(t)
	var available bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&available); err != nil {
		t.Fatal(err)
	}
	if !available {
		t.Skip("skipping: timescaledb is not installed on the test server")
	}
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaTimescaleDB})
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaTimescaleDB})
	insertAndCheck(t, NewPGStore(pool, nil), ts("2024-03-10T10:00:00Z"))
}

func TestIntegrationConcurrentBootstrap(t *testing.T) {
	pool := freshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Bootstrap(context.Background(), pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true}, testLogger(t))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Bootstrap: %v", err)
		}
	}
}

// TestIntegrationHTTP drives the real handlers against the database.
func TestIntegrationHTTP(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true})
	api := &API{Env: "it", APIKey: "k", Store: NewPGStore(pool, nil), Log: testLogger(t)}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	body := `{"name":"temp","points":[{"time":"2024-03-10T10:00:10Z","value":20},{"time":"2024-03-10T10:00:50Z","value":22},{"time":"2024-03-10T10:01:00Z","value":30}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/api/series", strings.NewReader(body))
	req.Header.Set("X-Api-Key", "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST status %d", resp.StatusCode)
	}

	resp, err = http.Get(srv.URL + "/api/series?name=temp&from=2024-03-10T10:00:00Z&to=2024-03-10T11:00:00Z&bucket=1m")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out seriesResponse
	if err := decodeJSON(resp, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET status %d: %v", resp.StatusCode, err)
	}
	if len(out.Points) != 2 || out.Points[0].Avg != 21 || out.Points[0].Count != 2 || out.Points[1].Max != 30 {
		t.Fatalf("unexpected aggregates %+v", out.Points)
	}

	resp2, err := http.Get(srv.URL + "/api/health?deep=1")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("deep health %d", resp2.StatusCode)
	}
}
