package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeStore struct {
	pingErr   error
	aggErr    error
	insertErr error
	listErr   error
	buckets   []Bucket
	list      []SeriesInfo

	aggCalls    int
	gotSeries   string
	gotFrom     time.Time
	gotTo       time.Time
	gotBucket   time.Duration
	insertCalls int
	inserted    []Point
	listCalls   int
	gotAfter    string
	gotSince    time.Time
	gotLimit    int
}

func (f *fakeStore) Ping(context.Context) error { return f.pingErr }

func (f *fakeStore) Aggregate(_ context.Context, s string, from, to time.Time, b time.Duration, _ int) ([]Bucket, error) {
	f.aggCalls++
	f.gotSeries, f.gotFrom, f.gotTo, f.gotBucket = s, from, to, b
	return f.buckets, f.aggErr
}

func (f *fakeStore) Insert(_ context.Context, s string, p []Point) (int64, error) {
	f.insertCalls++
	f.gotSeries, f.inserted = s, p
	if f.insertErr != nil {
		return 0, f.insertErr
	}
	return int64(len(p)), nil
}

func (f *fakeStore) ListSeries(_ context.Context, after string, since time.Time, limit int) ([]SeriesInfo, error) {
	f.listCalls++
	f.gotAfter, f.gotSince, f.gotLimit = after, since, limit
	return f.list, f.listErr
}

var fixedNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newTestAPI(store *fakeStore) http.Handler {
	api := &API{
		Env:    "test",
		APIKey: "s3cret-key",
		Store:  store,
		Log:    slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now:    func() time.Time { return fixedNow },
	}
	return api.Handler()
}

func do(t *testing.T, h http.Handler, method, target, body string, hdr map[string]string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if method != http.MethodHead {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: Content-Type = %q, want JSON; body %q", method, target, ct, rec.Body.String())
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %q", method, target, err, rec.Body.String())
		}
	}
	return rec, out
}

func TestHealthShallowDoesNotTouchDB(t *testing.T) {
	store := &fakeStore{pingErr: errors.New("db down")}
	rec, body := do(t, newTestAPI(store), "GET", "/api/health", "", nil)
	if rec.Code != 200 || body["status"] != "ok" || body["env"] != "test" {
		t.Fatalf("got %d %v", rec.Code, body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", rec.Header().Get("Cache-Control"))
	}
}

func TestHealthHead(t *testing.T) {
	rec, _ := do(t, newTestAPI(&fakeStore{}), "HEAD", "/api/health", "", nil)
	if rec.Code != 200 {
		t.Fatalf("HEAD /api/health = %d", rec.Code)
	}
}

// Issue #12, 4: the deep check answers only to an API key; anonymous
// requests get 401 without touching the database.
func TestHealthDeep(t *testing.T) {
	key := map[string]string{"X-Api-Key": "s3cret-key"}
	rec, body := do(t, newTestAPI(&fakeStore{}), "GET", "/api/health/deep", "", key)
	if rec.Code != 200 || body["db"] != "ok" {
		t.Fatalf("healthy deep check: %d %v", rec.Code, body)
	}
	rec, body = do(t, newTestAPI(&fakeStore{pingErr: errors.New("db down")}), "GET", "/api/health/deep", "", key)
	if rec.Code != 503 || body["status"] != "error" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("failing deep check: %d %v", rec.Code, body)
	}
	rec, body = do(t, newTestAPI(&fakeStore{pingErr: errSchemaMissing}), "GET", "/api/health/deep", "", key)
	if rec.Code != 503 || body["db"] != "schema missing: run /app -migrate" {
		t.Fatalf("deep check without schema: %d %v", rec.Code, body)
	}
	for _, hdr := range []map[string]string{nil, {"X-Api-Key": ""}, {"X-Api-Key": "wrong"}} {
		store := &countingPing{}
		rec, body := do(t, newTestAPI(&store.fakeStore), "GET", "/api/health/deep", "", hdr)
		api := &API{Env: "test", APIKey: "s3cret-key", Store: store, Log: slog.New(slog.DiscardHandler)}
		rec2, _ := do(t, api.Handler(), "GET", "/api/health/deep", "", hdr)
		if rec.Code != 401 || rec2.Code != 401 || body["error"] == nil || store.pings != 0 {
			t.Errorf("deep check with %v: %d/%d %v, store pinged %d times; want 401 and no database access", hdr, rec.Code, rec2.Code, body, store.pings)
		}
	}
	// Without a configured key nobody can run the deep check.
	api := &API{Env: "test", Store: &fakeStore{}, Log: slog.New(slog.DiscardHandler)}
	if rec, _ := do(t, api.Handler(), "GET", "/api/health/deep", "", map[string]string{"X-Api-Key": ""}); rec.Code != 401 {
		t.Errorf("deep check without API_KEY: %d", rec.Code)
	}
}

type countingPing struct {
	fakeStore
	pings int
}

func (c *countingPing) Ping(context.Context) error { c.pings++; return nil }

// ?deep on the public check must not pass off the shallow answer as the deep one.
func TestHealthRefusesDeepParameter(t *testing.T) {
	for _, q := range []string{"deep=1", "deep=true", "deep=", "deep=0"} {
		store := &countingPing{}
		rec, body := do(t, newTestAPI(&store.fakeStore), "GET", "/api/health?"+q, "", nil)
		msg, _ := body["error"].(string)
		if rec.Code != 400 || !strings.Contains(msg, "/api/health/deep") {
			t.Errorf("?%s: %d %v, want 400 pointing at /api/health/deep", q, rec.Code, body)
		}
	}
}

// Issue #12, 5: during a rotation both keys work; the log says which one.
func TestAPIKeyRotation(t *testing.T) {
	var logged strings.Builder
	api := &API{Env: "test", APIKey: "new-key", APIKeyPrevious: "old-key", Store: &fakeStore{},
		Log: slog.New(slog.NewJSONHandler(&logged, nil)), Now: func() time.Time { return fixedNow }}
	h := api.Handler()
	for _, c := range []struct {
		key  string
		code int
		log  string
	}{
		{"new-key", 201, `"api_key":"current"`},
		{"old-key", 201, `"api_key":"previous"`},
		{"old-ke", 401, ""},
		{"new-key-", 401, ""},
		{"", 401, ""},
	} {
		logged.Reset()
		rec, body := do(t, h, "POST", "/api/series", goodBody, map[string]string{"X-Api-Key": c.key})
		if rec.Code != c.code {
			t.Errorf("key %q: %d %v, want %d", c.key, rec.Code, body, c.code)
		}
		if c.log != "" && !strings.Contains(logged.String(), c.log) {
			t.Errorf("key %q: request log %s lacks %s", c.key, logged.String(), c.log)
		}
		rec, _ = do(t, h, "GET", "/api/health/deep", "", map[string]string{"X-Api-Key": c.key})
		if want := map[bool]int{true: 200, false: 401}[c.code == 201]; rec.Code != want {
			t.Errorf("deep check with key %q: %d, want %d", c.key, rec.Code, want)
		}
	}
	// After the rotation API_KEY_PREVIOUS is cleared: the old key stops working.
	api = &API{Env: "test", APIKey: "new-key", Store: &fakeStore{}, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return fixedNow }}
	if rec, _ := do(t, api.Handler(), "POST", "/api/series", goodBody, map[string]string{"X-Api-Key": "old-key"}); rec.Code != 401 {
		t.Errorf("old key after the rotation: %d, want 401", rec.Code)
	}
}

func TestNotFoundIsJSON(t *testing.T) {
	for _, p := range []string{"/api/nope", "/api/", "/api/series/extra", "/", "/index.html"} {
		rec, body := do(t, newTestAPI(&fakeStore{}), "GET", p, "", nil)
		if rec.Code != 404 || body["error"] != "not found" {
			t.Errorf("GET %s = %d %v, want JSON 404", p, rec.Code, body)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	rec, body := do(t, newTestAPI(&fakeStore{}), "DELETE", "/api/series", "", nil)
	if rec.Code != 405 || body["error"] == nil || rec.Header().Get("Allow") == "" {
		t.Fatalf("DELETE /api/series = %d %v allow=%q", rec.Code, body, rec.Header().Get("Allow"))
	}
	rec, _ = do(t, newTestAPI(&fakeStore{}), "POST", "/api/health", "", nil)
	if rec.Code != 405 {
		t.Fatalf("POST /api/health = %d", rec.Code)
	}
}

func TestGetSeriesValidation(t *testing.T) {
	tests := []struct{ query, want string }{
		{"", "name is required"},
		{"name=bad%20name", "name must be"},
		{"name=" + strings.Repeat("a", 129), "name must be"},
		{"name=cpu&bucket=2m", "bucket must be"},
		{"name=cpu&from=yesterday", "from must be an RFC 3339"},
		{"name=cpu&to=2024-13-01T00:00:00Z", "to must be an RFC 3339"},
		{"name=cpu&from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "from must be before to"},
		{"name=cpu&from=2024-01-01T00:00:00Z&to=2024-01-01T00:00:00Z", "from must be before to"},
		{"name=cpu&from=2020-01-01T00:00:00Z&to=2024-01-01T00:00:00Z&bucket=1m", "range too large"},
	}
	for _, tt := range tests {
		store := &fakeStore{}
		rec, body := do(t, newTestAPI(store), "GET", "/api/series?"+tt.query, "", nil)
		msg, _ := body["error"].(string)
		if rec.Code != 400 || !strings.Contains(msg, tt.want) {
			t.Errorf("?%s = %d %q, want 400 containing %q", tt.query, rec.Code, msg, tt.want)
		}
		if store.aggCalls != 0 {
			t.Errorf("?%s reached the store", tt.query)
		}
	}
}

func TestGetSeriesOK(t *testing.T) {
	store := &fakeStore{buckets: []Bucket{{Time: fixedNow.Add(-time.Hour), Avg: 1.5, Min: 1, Max: 2, Count: 2}}}
	rec, body := do(t, newTestAPI(store), "GET",
		"/api/series?name=cpu.load&from=2024-05-01T10:00:00Z&to=2024-05-01T14:00:00%2B02:00&bucket=5m", "", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d %v", rec.Code, body)
	}
	if store.gotSeries != "cpu.load" || store.gotBucket != 5*time.Minute ||
		!store.gotFrom.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) ||
		!store.gotTo.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("store got %q %v %v %v", store.gotSeries, store.gotFrom, store.gotTo, store.gotBucket)
	}
	pts, _ := body["points"].([]any)
	if len(pts) != 1 || body["bucket"] != "5m" || body["name"] != "cpu.load" {
		t.Fatalf("body %v", body)
	}
	p := pts[0].(map[string]any)
	if p["avg"] != 1.5 || p["count"] != float64(2) {
		t.Fatalf("point %v", p)
	}
}

func TestGetSeriesDefaultsAndEmpty(t *testing.T) {
	store := &fakeStore{}
	rec, body := do(t, newTestAPI(store), "GET", "/api/series?name=cpu", "", nil)
	if rec.Code != 200 {
		t.Fatalf("status %d %v", rec.Code, body)
	}
	if !store.gotTo.Equal(fixedNow) || !store.gotFrom.Equal(fixedNow.Add(-time.Hour)) || store.gotBucket != time.Minute {
		t.Fatalf("defaults: %v %v %v", store.gotFrom, store.gotTo, store.gotBucket)
	}
	if pts, ok := body["points"].([]any); !ok || len(pts) != 0 {
		t.Fatalf("empty result must be [], got %v", body["points"])
	}
}

func TestGetSeriesStoreErrors(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{errNotReady, 503},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), 503},
		{errTooManyPoints, 400},
		{errors.New(`ERROR: relation "measurements" does not exist`), 500},
	}
	for _, c := range cases {
		rec, body := do(t, newTestAPI(&fakeStore{aggErr: c.err}), "GET", "/api/series?name=cpu", "", nil)
		if rec.Code != c.code {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.code)
		}
		if msg, _ := body["error"].(string); strings.Contains(msg, "relation") {
			t.Errorf("SQL detail leaked: %q", msg)
		}
	}
}

const goodBody = `{"name":"cpu","points":[{"time":"2024-05-01T10:00:00Z","value":1.5},{"time":"2024-05-01T10:00:30+02:00","value":-2}]}`

func TestPostSeriesAuth(t *testing.T) {
	for _, hdr := range []map[string]string{
		nil,
		{"X-Api-Key": ""},
		{"X-Api-Key": "wrong"},
		{"X-Api-Key": "s3cret-key-but-longer"},
		{"X-Api-Key": "s3cret-ke"},
	} {
		store := &fakeStore{}
		rec, body := do(t, newTestAPI(store), "POST", "/api/series", goodBody, hdr)
		if rec.Code != 401 || body["error"] == nil {
			t.Errorf("key %v: %d %v, want 401", hdr, rec.Code, body)
		}
		if store.insertCalls != 0 {
			t.Errorf("key %v reached the store", hdr)
		}
	}
}

func TestPostSeriesWithoutConfiguredKey(t *testing.T) {
	api := &API{Env: "test", Store: &fakeStore{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	rec, _ := do(t, api.Handler(), "POST", "/api/series", goodBody, map[string]string{"X-Api-Key": ""})
	if rec.Code != 503 {
		t.Fatalf("status %d, want 503 when API_KEY is unset", rec.Code)
	}
}

func TestPostSeriesOK(t *testing.T) {
	store := &fakeStore{}
	rec, body := do(t, newTestAPI(store), "POST", "/api/series", goodBody,
		map[string]string{"X-Api-Key": "s3cret-key", "Content-Type": "application/json"})
	if rec.Code != 201 || body["stored"] != float64(2) {
		t.Fatalf("%d %v", rec.Code, body)
	}
	if store.gotSeries != "cpu" || len(store.inserted) != 2 || store.inserted[1].Value != -2 ||
		!store.inserted[1].Time.Equal(time.Date(2024, 5, 1, 8, 0, 30, 0, time.UTC)) {
		t.Fatalf("store got %q %+v", store.gotSeries, store.inserted)
	}
}

func TestPostSeriesValidation(t *testing.T) {
	many := make([]string, maxPoints+1)
	for i := range many {
		many[i] = `{"time":"2024-05-01T10:00:00Z","value":1}`
	}
	tests := []struct {
		name, body string
		code       int
		want       string
	}{
		{"not json", `{`, 400, "invalid JSON"},
		{"trailing data", goodBody + `{}`, 400, "unexpected data"},
		{"unknown field", `{"name":"cpu","points":[],"extra":1}`, 400, "invalid JSON"},
		{"bad name", `{"name":"a b","points":[{"time":"2024-05-01T10:00:00Z","value":1}]}`, 400, "name must be"},
		{"no points", `{"name":"cpu","points":[]}`, 400, "points must contain"},
		{"missing value", `{"name":"cpu","points":[{"time":"2024-05-01T10:00:00Z"}]}`, 400, "points[0]: time and value are required"},
		{"bad time", `{"name":"cpu","points":[{"time":"2024-05-01 10:00","value":1}]}`, 400, "points[0].time"},
		{"string value", `{"name":"cpu","points":[{"time":"2024-05-01T10:00:00Z","value":"1"}]}`, 400, "invalid JSON"},
		{"too many points", `{"name":"cpu","points":[` + strings.Join(many, ",") + `]}`, 400, "points must contain"},
		{"too big", `{"name":"cpu","points":[{"time":"2024-05-01T10:00:00Z","value":1}],"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			rec, body := do(t, newTestAPI(store), "POST", "/api/series", tt.body, map[string]string{"X-Api-Key": "s3cret-key"})
			msg, _ := body["error"].(string)
			if rec.Code != tt.code || !strings.Contains(msg, tt.want) {
				t.Fatalf("%d %q, want %d containing %q", rec.Code, msg, tt.code, tt.want)
			}
			if store.insertCalls != 0 {
				t.Fatal("invalid input reached the store")
			}
		})
	}
}

func TestPostSeriesWrongContentType(t *testing.T) {
	rec, _ := do(t, newTestAPI(&fakeStore{}), "POST", "/api/series", goodBody,
		map[string]string{"X-Api-Key": "s3cret-key", "Content-Type": "text/plain"})
	if rec.Code != 415 {
		t.Fatalf("status %d, want 415", rec.Code)
	}
}

func TestPanicIsRecoveredAsJSON(t *testing.T) {
	api := &API{Env: "test", Store: &panicStore{}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	api.APIKey = "k"
	rec, body := do(t, api.Handler(), "GET", "/api/health/deep", "", map[string]string{"X-Api-Key": "k"})
	if rec.Code != 500 || body["error"] != "internal error" {
		t.Fatalf("%d %v", rec.Code, body)
	}
}

type panicStore struct{ fakeStore }

func (*panicStore) Ping(context.Context) error { panic("boom") }

func TestHealthcheckFlag(t *testing.T) {
	srv := httptest.NewServer(newTestAPI(&fakeStore{}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	if code := runHealthcheck(port); code != 0 {
		t.Fatalf("healthy server: exit %d", code)
	}
	srv.Close()
	if code := runHealthcheck(port); code != 1 {
		t.Fatalf("closed server: exit %d", code)
	}
	if code := runHealthcheck("not-a-port"); code != 1 {
		t.Fatalf("bad port: exit %d", code)
	}
}

func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
