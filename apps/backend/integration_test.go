package main

import (
	"context"
	"encoding/json"
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

// testRetention keeps the number of daily partitions small in tests.
const testRetention = 3 * 24 * time.Hour

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
	pool, _ := freshDatabase(t)
	return pool
}

// freshDatabase is freshDB that also returns the database's name.
func freshDatabase(t *testing.T) (*pgxpool.Pool, string) {
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
	return pool, name
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
		got, err := store.Aggregate(ctx, "cpu", base, at(10*time.Minute), bucket, readMaxPoints)
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

	got, err := store.Aggregate(ctx, "nothing", base, at(time.Hour), time.Minute, readMaxPoints)
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
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPlain, Retention: testRetention})
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPlain, Retention: testRetention}) // idempotent
	if k := relkind(t, pool); k != "r" {
		t.Fatalf("plain mode relkind = %q, want r", k)
	}
	insertAndCheck(t, NewPGStore(pool, nil, nil), ts("2024-03-10T10:00:00Z"))
}

func TestIntegrationPartmanFallback(t *testing.T) {
	pool := freshDB(t)
	opts := BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention}
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
	insertAndCheck(t, NewPGStore(pool, nil, nil), ts("2024-03-10T10:00:00Z"))
	var inDefault int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM measurements_default`).Scan(&inDefault); err != nil || inDefault != 6 {
		t.Fatalf("rows in default partition = %d (%v), want 6", inDefault, err)
	}
}

func TestIntegrationPartmanExtension(t *testing.T) {
	pool, res := partmanPool(t)
	ctx := context.Background()
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, Retention: testRetention})
	var children int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'measurements'::regclass`).Scan(&children); err != nil {
		t.Fatal(err)
	}
	if children < 3 {
		t.Fatalf("expected daily partitions plus default, got %d children", children)
	}
	// Recent data lands in daily partitions, old data in the default partition.
	insertAndCheck(t, NewPGStore(pool, nil, nil), time.Now().UTC().Truncate(time.Hour))
	insertAndCheck(t, NewPGStore(pool, nil, nil), ts("2020-01-01T00:00:00Z"))
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
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaTimescaleDB, Retention: testRetention})
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaTimescaleDB, Retention: testRetention})
	insertAndCheck(t, NewPGStore(pool, nil, nil), ts("2024-03-10T10:00:00Z"))
}

func TestIntegrationConcurrentBootstrap(t *testing.T) {
	pool := freshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Bootstrap(context.Background(), pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention}, testLogger(t))
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
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention})
	api := &API{Env: "it", APIKey: "k", Store: NewPGStore(pool, nil, nil), Log: testLogger(t), Limits: Limits{Retention: testRetention}}
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()

	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	at := func(d time.Duration) string { return base.Add(d).Format(time.RFC3339) }
	body := fmt.Sprintf(`{"name":"temp","points":[{"time":%q,"value":20},{"time":%q,"value":22},{"time":%q,"value":30}]}`,
		at(10*time.Second), at(50*time.Second), at(time.Minute))
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

	resp, err = http.Get(srv.URL + "/api/series?name=temp&from=" + at(0) + "&to=" + at(time.Hour) + "&bucket=1m")
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

	req, _ = http.NewRequest("GET", srv.URL+"/api/health/deep", nil)
	req.Header.Set("X-Api-Key", "k")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 200 {
		t.Fatalf("deep health %d", resp2.StatusCode)
	}
}

func realAPI(t *testing.T, store Store) http.Handler {
	api := &API{Env: "it", APIKey: "s3cret-key", Store: store, Log: testLogger(t), Limits: Limits{Retention: testRetention}}
	return api.Handler()
}

func readBuckets(t *testing.T, h http.Handler, name string, from, to time.Time, bucket string) (int, []Bucket, string) {
	t.Helper()
	q := fmt.Sprintf("/api/series?name=%s&from=%s&to=%s&bucket=%s", name, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), bucket)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", q, nil))
	var out seriesResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out.Points, rec.Body.String()
}

func partmanPool(t *testing.T) (*pgxpool.Pool, BootstrapResult) {
	t.Helper()
	pool := freshDB(t)
	var available bool
	if err := pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman')`).Scan(&available); err != nil {
		t.Fatal(err)
	}
	if !available {
		t.Skip("skipping: pg_partman is not installed on the test server (Debian: postgresql-NN-partman)")
	}
	res := mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, Retention: testRetention})
	if res.PartmanSchema == "" {
		t.Fatal("pg_partman is available but measurements was not registered")
	}
	return pool, res
}

// Issue #16, 1: after every kind of edge-case write (accepted or refused),
// pg_partman maintenance still succeeds and the default partition stays empty.
func TestIntegrationMaintenanceAfterEdgeWrites(t *testing.T) {
	pool, res := partmanPool(t)
	ctx := context.Background()
	h := realAPI(t, NewPGStore(pool, nil, nil))
	now := time.Now().UTC()
	for _, c := range []struct {
		at   time.Time
		code int
	}{
		{now.Add(6 * 24 * time.Hour), 400},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 400},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), 400},
		{now.Add(-testRetention - time.Minute), 400},
		{now.Add(-testRetention + time.Minute), 201}, // oldest accepted: its partition exists
		{now.Add(5*time.Minute - time.Second), 201},  // newest accepted
		{now.Truncate(24 * time.Hour), 201},          // midnight, a partition boundary
		{now.Truncate(24 * time.Hour).Add(-time.Microsecond), 201},
	} {
		if code, body := postPoints(t, h, "edge", pt(c.at, "1")); code != c.code {
			t.Errorf("write at %v: %d %s, want %d", c.at, code, body, c.code)
		}
	}
	for i := 0; i < 2; i++ { // twice: maintenance must also be re-runnable
		if _, err := runMaintenance(ctx, pool); err != nil {
			t.Fatalf("run_maintenance after edge-case writes: %v", err)
		}
	}
	var inDefault, stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM measurements_default`).Scan(&inDefault); err != nil || inDefault != 0 {
		t.Errorf("rows in the default partition: %d (%v), want 0", inDefault, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM measurements WHERE series = 'edge'`).Scan(&stored); err != nil || stored != 4 {
		t.Errorf("stored edge points: %d (%v), want 4", stored, err)
	}
	// The options that keep maintenance independent of the data are set.
	var infinite, ignoreDefault bool
	var retention string
	var premake int
	if err := pool.QueryRow(ctx, `SELECT infinite_time_partitions, ignore_default_data, retention, premake FROM `+res.PartmanSchema+`.part_config WHERE parent_table = $1`,
		res.ParentTable).Scan(&infinite, &ignoreDefault, &retention, &premake); err != nil {
		t.Fatal(err)
	}
	if !infinite || !ignoreDefault || retention != "3 days" || premake != partmanPremake {
		t.Errorf("part_config: infinite_time_partitions=%v ignore_default_data=%v retention=%q premake=%d", infinite, ignoreDefault, retention, premake)
	}
}

// A database bootstrapped before the write window may hold a future row in the
// default partition; with ignore_default_data maintenance keeps working for
// today's partitions and the row is reported (README: partition_data_time).
func TestIntegrationMaintenanceWithLegacyDefaultRows(t *testing.T) {
	pool, _ := partmanPool(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO measurements VALUES ('legacy', now() + interval '30 days', 1)`); err != nil {
		t.Fatal(err)
	}
	defaultRows, err := runMaintenance(ctx, pool)
	if err != nil {
		t.Fatalf("maintenance with a far-future row in the default partition: %v", err)
	}
	if !defaultRows {
		t.Error("rows in the default partition were not reported")
	}
}

// Retention drops partitions older than DATA_RETENTION, and a changed
// retention reaches an existing partition set on the next bootstrap.
func TestIntegrationPartmanRetention(t *testing.T) {
	pool, res := partmanPool(t)
	ctx := context.Background()
	oldest := func() time.Time {
		var ts time.Time
		if err := pool.QueryRow(ctx, `
			SELECT min(substring(pg_get_expr(c.relpartbound, c.oid) FROM 'FROM \(''([^'']+)''')::timestamptz)
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'measurements'::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'`).Scan(&ts); err != nil {
			t.Fatal(err)
		}
		return ts
	}
	horizon := time.Now().UTC().Add(-testRetention).Truncate(24 * time.Hour)
	if got := oldest(); !got.Equal(horizon) {
		t.Fatalf("oldest partition starts %v, want the retention horizon %v", got, horizon)
	}
	if _, err := Bootstrap(ctx, pool, BootstrapOptions{Mode: SchemaPartman, Retention: 2 * 24 * time.Hour}, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := oldest(), time.Now().UTC().Add(-2*24*time.Hour).Truncate(24*time.Hour); !got.Equal(want) {
		t.Errorf("after shortening the retention the oldest partition starts %v, want %v", got, want)
	}
	_ = res
}

// Issue #16, 2: extreme accepted values keep every read answerable; values
// beyond them are refused.
func TestIntegrationExtremeValues(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention})
	h := realAPI(t, NewPGStore(pool, nil, nil))
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	if code, body := postPoints(t, h, "big", pt(at, "1.7e308"), pt(at.Add(time.Second), "1.7e308")); code != 400 {
		t.Errorf("write 2 x 1.7e308: %d %s, want 400", code, body)
	}
	var pts []string
	for i := 0; i < 1000; i++ {
		v := "1e100"
		if i%2 == 1 {
			v = "-1e100"
		}
		pts = append(pts, pt(at.Add(time.Duration(i)*time.Millisecond), v))
	}
	pts = append(pts, pt(at.Add(2*time.Second), "1e100"), pt(at.Add(3*time.Second), "1e100"), pt(at.Add(4*time.Second), "5e-324"))
	if code, body := postPoints(t, h, "big", pts...); code != 201 {
		t.Fatalf("write extreme accepted values: %d %s", code, body)
	}
	code, b, body := readBuckets(t, h, "big", at, at.Add(time.Hour), "1h")
	if code != 200 || len(b) != 1 || b[0].Count != 1003 || b[0].Max != 1e100 || b[0].Min != -1e100 || math.IsInf(b[0].Avg, 0) {
		t.Errorf("read after extreme values: %d %+v %s", code, b, body)
	}
}

// Issue #16, 3: retries and concurrent duplicates store one row; the last
// write wins.
func TestIntegrationIdempotentWrites(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention})
	h := realAPI(t, NewPGStore(pool, nil, nil))
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)

	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); c, _ := postPoints(t, h, "retry", pt(at, "7")); codes <- c }()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 201 {
			t.Errorf("concurrent duplicate write: %d", c)
		}
	}
	_, b, _ := readBuckets(t, h, "retry", at, at.Add(time.Hour), "1h")
	if len(b) != 1 || b[0].Count != 1 || b[0].Avg != 7 {
		t.Errorf("50 identical writes read back as %+v, want one point of 7", b)
	}

	// Overlapping batches in opposite orders, concurrently: no deadlock, one row per time.
	var fwd, rev []string
	for i := 0; i < 500; i++ {
		fwd = append(fwd, pt(at.Add(time.Duration(i)*time.Second), "1"))
		rev = append(rev, pt(at.Add(time.Duration(499-i)*time.Second), "1"))
	}
	errs := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := fwd
			if i%2 == 1 {
				batch = rev
			}
			if c, body := postPoints(t, h, "batch", batch...); c != 201 {
				errs <- body
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent overlapping batch: %s", e)
	}
	_, b, _ = readBuckets(t, h, "batch", at, at.Add(time.Hour), "1h")
	if len(b) != 1 || b[0].Count != 500 {
		t.Errorf("20 overlapping batches of 500 read back as %+v, want count 500", b)
	}

	// A later write replaces the value; duplicates inside one request: the last wins.
	if c, body := postPoints(t, h, "retry", pt(at, "9"), pt(at.Add(time.Second), "1"), pt(at.Add(time.Second), "3")); c != 201 || !strings.Contains(body, `"stored":2`) {
		t.Fatalf("rewrite: %d %s", c, body)
	}
	_, b, _ = readBuckets(t, h, "retry", at, at.Add(time.Hour), "1h")
	if len(b) != 1 || b[0].Count != 2 || b[0].Min != 3 || b[0].Max != 9 {
		t.Errorf("after rewriting: %+v, want 9 and 3", b)
	}
}

// Issue #16, 4: with every data connection busy, the deep health check still
// answers from its own connection.
func TestIntegrationDeepHealthHasItsOwnBudget(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention})
	cfg := pool.Config().Copy()
	cfg.MaxConns = 1
	health, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer health.Close()
	h := realAPI(t, NewPGStore(pool, health, nil))
	var held []*pgxpool.Conn
	for i := int32(0); i < pool.Config().MaxConns; i++ {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	start := time.Now()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/health/deep", nil)
	req.Header.Set("X-Api-Key", "s3cret-key")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || time.Since(start) > 2*time.Second {
		t.Errorf("deep health with every data connection busy: %d after %v, want 200 at once", rec.Code, time.Since(start))
	}
}

// Issue #16, 4: the server-side statement timeout ends an expensive read with
// 503 and Retry-After; a range denser than the point cap is refused with 400.
func TestIntegrationReadBudget(t *testing.T) {
	pool := freshDB(t)
	mustBootstrap(t, pool, BootstrapOptions{Mode: SchemaPartman, DisablePartman: true, Retention: testRetention})
	ctx := context.Background()
	at := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	if _, err := pool.Exec(ctx, `INSERT INTO measurements SELECT 'dense', $1::timestamptz + i * interval '1 ms', i FROM generate_series(0, $2) i`, at, readMaxPoints); err != nil {
		t.Fatal(err)
	}
	h := realAPI(t, NewPGStore(pool, nil, nil))
	code, _, body := readBuckets(t, h, "dense", at, at.Add(time.Hour), "1m")
	if code != 400 || !strings.Contains(body, "more than 500000 points") {
		t.Errorf("read of %d points: %d %s, want 400", readMaxPoints+1, code, body)
	}
	code, b, _ := readBuckets(t, h, "dense", at, at.Add(readMaxPoints*time.Millisecond), "1m")
	if code != 200 || b[0].Count+b[len(b)-1].Count == 0 {
		t.Errorf("read of exactly %d points: %d", readMaxPoints, code)
	}

	cfg := pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "1"
	slow, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	rec := httptest.NewRecorder()
	realAPI(t, NewPGStore(slow, nil, nil)).ServeHTTP(rec, httptest.NewRequest("GET",
		"/api/series?name=dense&from="+at.Format(time.RFC3339)+"&to="+at.Add(time.Hour).Format(time.RFC3339), nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("read past the statement timeout: %d %s, want 503 with Retry-After", rec.Code, rec.Body.String())
	}
}

// Issue #16, 5: the listing pages through series with recent data.
func TestIntegrationListSeries(t *testing.T) {
	pool, _ := partmanPool(t)
	h := realAPI(t, NewPGStore(pool, nil, nil))
	now := time.Now().UTC()
	for _, s := range []string{"b", "a", "c.load", "d"} {
		if code, body := postPoints(t, h, s, pt(now.Add(-time.Hour), "1"), pt(now.Add(-time.Minute), "2")); code != 201 {
			t.Fatalf("write %s: %d %s", s, code, body)
		}
	}
	// Only data older than the listing window: not listed.
	if _, err := pool.Exec(context.Background(), `INSERT INTO measurements VALUES ('old', $1, 1)`, now.Add(-listWindow-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var names []string
	after := ""
	for page := 0; page < 5; page++ {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/series/list?limit=3&after="+after, nil))
		var out listResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
			t.Fatalf("list: %d %s", rec.Code, rec.Body.String())
		}
		for _, s := range out.Series {
			names = append(names, s.Name)
			if d := s.Last.Sub(now.Add(-time.Minute)); d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("%s last = %v, want %v", s.Name, s.Last, now.Add(-time.Minute))
			}
		}
		if out.Next == nil {
			break
		}
		after = *out.Next
	}
	if strings.Join(names, ",") != "a,b,c.load,d" {
		t.Errorf("listed %v, want a, b, c.load, d (recent series only, by name)", names)
	}
}
