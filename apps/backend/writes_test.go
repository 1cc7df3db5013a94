package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// postPoints posts points (JSON objects) for name with the test API key.
func postPoints(t *testing.T, h http.Handler, name string, pts ...string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"name":%q,"points":[%s]}`, name, strings.Join(pts, ","))
	req := httptest.NewRequest("POST", "/api/series", strings.NewReader(body))
	req.Header.Set("X-Api-Key", "s3cret-key")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func pt(t time.Time, v string) string {
	return fmt.Sprintf(`{"time":%q,"value":%s}`, t.UTC().Format(time.RFC3339Nano), v)
}

// Issue #16, 1: timestamps outside [now-retention, now+5m] are refused, so
// no write can reach the default partition or make maintenance create
// partitions for the year 3000.
func TestWriteWindow(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name string
		at   time.Time
		code int
	}{
		{"six days ahead", fixedNow.Add(6 * day), 400},
		{"year 3000", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), 400},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), 400},
		{"two years old", fixedNow.AddDate(-2, 0, 0), 400},
		{"just past the future bound", fixedNow.Add(5*time.Minute + time.Second), 400},
		{"just before the retention", fixedNow.Add(-90*day - time.Second), 400},
		{"at the future bound", fixedNow.Add(5 * time.Minute), 201},
		{"at the retention", fixedNow.Add(-90 * day), 201},
		{"one minute ahead", fixedNow.Add(time.Minute), 201},
		{"a day old", fixedNow.Add(-day), 201},
	} {
		store := &fakeStore{}
		code, body := postPoints(t, newTestAPI(store), "cpu", pt(fixedNow.Add(-time.Minute), "1"), pt(c.at, "1"))
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
		if code == 400 && (!strings.Contains(body, "points[1].time must be within the accepted window") || store.insertCalls != 0) {
			t.Errorf("%s: message %s, store calls %d", c.name, body, store.insertCalls)
		}
	}
}

func TestWriteWindowIsConfigurable(t *testing.T) {
	api := &API{Env: "test", APIKey: "s3cret-key", Store: &fakeStore{}, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return fixedNow }, Limits: Limits{MaxFuture: time.Hour, Retention: 7 * 24 * time.Hour}}
	h := api.Handler()
	if code, body := postPoints(t, h, "cpu", pt(fixedNow.Add(50*time.Minute), "1")); code != 201 {
		t.Errorf("50 min ahead with WRITE_MAX_FUTURE=1h: %d %s", code, body)
	}
	if code, body := postPoints(t, h, "cpu", pt(fixedNow.Add(-8*24*time.Hour), "1")); code != 400 || !strings.Contains(body, "7d") {
		t.Errorf("8 days old with DATA_RETENTION=7d: %d %s", code, body)
	}
}

// Issue #16, 2: values the aggregates cannot hold are refused.
func TestValueRange(t *testing.T) {
	for _, c := range []struct {
		v    string
		code int
	}{
		{"1.7e308", 400}, {"-1.7e308", 400}, {"1.0000001e100", 400},
		{"1e100", 201}, {"-1e100", 201}, {"5e-324", 201}, {"0", 201},
	} {
		code, body := postPoints(t, newTestAPI(&fakeStore{}), "cpu", pt(fixedNow, c.v))
		if code != c.code {
			t.Errorf("value %s: %d %s, want %d", c.v, code, body, c.code)
		}
	}
}

// Issue #16, 5: RFC 3339 offsets are -23:59..+23:59, for reads and writes.
func TestTimestampOffsets(t *testing.T) {
	for _, c := range []struct {
		ts string
		ok bool
	}{
		{"2024-05-01T10:00:00Z", true},
		{"2024-05-01T10:00:00.123456789Z", true},
		{"2024-05-01t10:00:00z", true},
		{"2024-05-01T10:00:00+23:59", true},
		{"2024-05-01T10:00:00-23:59", true},
		{"2024-05-01T10:00:00+24:00", false},
		{"2024-05-01T10:00:00-24:00", false},
		{"2024-05-01T10:00:00+02:60", false},
		{"2024-05-01T10:00:00+0200", false},
		{"2024-05-01T10:00:00", false},
		{"2024-05-01 10:00:00Z", false},
		{"2024-02-30T10:00:00Z", false},
		{"2024-05-01T24:00:00Z", false},
	} {
		if _, ok := parseTime(c.ts); ok != c.ok {
			t.Errorf("parseTime(%q) ok = %v, want %v", c.ts, ok, c.ok)
		}
	}
	code, body := postPoints(t, newTestAPI(&fakeStore{}), "cpu", `{"time":"2024-05-01T10:00:00+24:00","value":1}`)
	if code != 400 {
		t.Errorf("+24:00 write: %d %s, want 400", code, body)
	}
	store := &fakeStore{}
	rec, _ := do(t, newTestAPI(store), "GET", "/api/series?name=cpu&to=2024-05-01T10:00:00%2B24:00", "", nil)
	if rec.Code != 400 || store.aggCalls != 0 {
		t.Errorf("+24:00 read: %d, want 400", rec.Code)
	}
}

// Issue #16, 5: error messages speak JSON, not Go.
func TestJSONErrorsDoNotExposeGoTypes(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"name":"cpu","points":[{"time":"2024-05-01T10:00:00Z","value":"1"}]}`, "points.value must be a number, got string"},
		{`{"name":"cpu","points":[{"time":5,"value":1}]}`, "points.time must be a string, got number"},
		{`{"name":1,"points":[]}`, "name must be a string, got number"},
		{`{"name":"cpu","points":{}}`, "points must be an array, got object"},
		{`[1]`, "must be an object, got array"},
		{`{"name":"cpu",}`, "syntax error at byte"},
		{`{"name":"cpu"`, "unexpected end of input"},
		{`{"name":"cpu","points":[],"extra":1}`, `unknown field "extra"`},
	} {
		rec, body := do(t, newTestAPI(&fakeStore{}), "POST", "/api/series", c.body, map[string]string{"X-Api-Key": "s3cret-key"})
		code, _ := rec.Code, ""
		msg, _ := body["error"].(string)
		if code != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %s, want 400 containing %q", c.body, code, msg, c.want)
		}
		for _, leak := range []string{"Go ", "float64", "struct", "main.", "inputPoint", "seriesInput", "json:"} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: message exposes %q: %s", c.body, leak, msg)
			}
		}
	}
}

// Issue #16, 3: one row per (series, time); the last value in a request wins.
func TestNormalizePoints(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	got := normalizePoints([]Point{
		{t0.Add(2 * time.Second), 1},
		{t0, 2},
		{t0.Add(2 * time.Second), 3},
		{t0.Add(500 * time.Nanosecond), 4}, // same microsecond as t0 in PostgreSQL
		{t0.Add(time.Second), 5},
	})
	want := []Point{{t0, 4}, {t0.Add(time.Second), 5}, {t0.Add(2 * time.Second), 3}}
	if len(got) != len(want) {
		t.Fatalf("normalizePoints = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || got[i].Value != want[i].Value {
			t.Fatalf("normalizePoints = %+v, want %+v", got, want)
		}
	}
}

// Issue #16, 4/5: a database that is down answers 503 with Retry-After, not 500.
func TestDatabaseDownIs503(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://u:p@127.0.0.1:1/db?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	api := &API{Env: "test", APIKey: "s3cret-key", Store: NewPGStore(pool, nil, nil), Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	h := api.Handler()
	for _, target := range []string{"/api/series?name=cpu", "/api/series/list", "/api/health/deep"} {
		rec, body := do(t, h, "GET", target, "", map[string]string{"X-Api-Key": "s3cret-key"})
		if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("GET %s with the database down: %d %v Retry-After=%q, want 503 with Retry-After", target, rec.Code, body, rec.Header().Get("Retry-After"))
		}
	}
	code, body := postPoints(t, h, "cpu", pt(time.Now().Add(-time.Minute), "1"))
	if code != 503 {
		t.Errorf("write with the database down: %d %s, want 503", code, body)
	}
}
