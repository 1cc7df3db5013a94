package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Request limits. They bound memory per request and the size of one write.
const (
	maxBodyBytes    = 1 << 20 // 1 MiB
	maxPoints       = 10_000
	maxBuckets      = 10_000
	defaultRange    = time.Hour
	requestTimeout  = 15 * time.Second
	maxSeriesLength = 128
	// maxAbsValue keeps aggregates finite: PostgreSQL's avg(float8) accumulates
	// the sum and the sum of squared deviations, which stay below float8's
	// 1.8e308 for up to ~4e107 rows per bucket at |value| <= 1e100.
	maxAbsValue = 1e100

	// Reads: one read may cover at most readMaxRange and scan at most
	// readMaxPoints rows; the listing looks back listWindow.
	readMaxRange  = 31 * 24 * time.Hour
	readMaxPoints = 500_000
	listWindow    = 7 * 24 * time.Hour
	listMaxLimit  = 100

	// retryAfterDB is what a 503 tells clients when the database is unavailable;
	// retryAfterBusy when all read slots are taken.
	retryAfterDB   = 5
	retryAfterBusy = 1
)

var bucketSizes = map[string]time.Duration{
	"1m": time.Minute,
	"5m": 5 * time.Minute,
	"1h": time.Hour,
}

// seriesName keeps names safe to embed in URLs such as /series/NAME in the frontend.
var seriesName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// Limits are the API's admission rules. The zero value is filled in by Handler.
type Limits struct {
	// Writes are accepted for times in [now-Retention, now+MaxFuture].
	MaxFuture time.Duration
	Retention time.Duration
	// ReadsPerClient is how many reads one client may have in flight; more get 429.
	ReadsPerClient int
	// ReadSlots is how many reads may use the database at once; the data pool is
	// larger so writes always find a connection. A read waits up to ReadQueueWait
	// for a slot, then gets 503.
	ReadSlots     int
	ReadQueueWait time.Duration
	// ProxyHops: see Config.ProxyHops.
	ProxyHops int
}

// DefaultLimits match a data pool of 10 connections.
var DefaultLimits = Limits{
	MaxFuture:      5 * time.Minute,
	Retention:      90 * 24 * time.Hour,
	ReadsPerClient: 4,
	ReadSlots:      8,
	ReadQueueWait:  time.Second,
	ProxyHops:      2,
}

// API holds the handlers' dependencies.
type API struct {
	Env string
	// APIKey authorises writes and the deep health check; APIKeyPrevious, when
	// set, is accepted too while a key rotation rolls out.
	APIKey         string
	APIKeyPrevious string
	Store          Store
	Log            *slog.Logger
	Now            func() time.Time
	Limits         Limits

	perClient *clientLimiter
	slots     chan struct{}
}

// Handler returns the full HTTP handler with logging, recovery and timeouts.
func (a *API) Handler() http.Handler {
	if a.Now == nil {
		a.Now = time.Now
	}
	l := &a.Limits
	d := DefaultLimits
	if l.MaxFuture <= 0 {
		l.MaxFuture = d.MaxFuture
	}
	if l.Retention <= 0 {
		l.Retention = d.Retention
	}
	if l.ReadsPerClient <= 0 {
		l.ReadsPerClient = d.ReadsPerClient
	}
	if l.ReadSlots <= 0 {
		l.ReadSlots = d.ReadSlots
	}
	if l.ReadQueueWait <= 0 {
		l.ReadQueueWait = d.ReadQueueWait
	}
	a.perClient = &clientLimiter{max: l.ReadsPerClient, inUse: map[string]int{}}
	a.slots = make(chan struct{}, l.ReadSlots)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", a.health)
	mux.HandleFunc("/api/health", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET /api/health/deep", a.deepHealth)
	mux.HandleFunc("/api/health/deep", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET /api/series", a.getSeries)
	mux.HandleFunc("POST /api/series", a.postSeries)
	mux.HandleFunc("/api/series", methodNotAllowed("GET, HEAD, POST"))
	mux.HandleFunc("GET /api/series/list", a.listSeries)
	mux.HandleFunc("/api/series/list", methodNotAllowed("GET, HEAD"))
	// Everything else is a real JSON 404: CloudFront must not see a 200 here.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	return a.middleware(mux)
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	apiKey string // which API key authorised the request, for the log
}

// noteKey records which key authorised the request; the request log shows it,
// so an operator sees when API_KEY_PREVIOUS is no longer used.
func noteKey(w http.ResponseWriter, key string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.apiKey = key
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (a *API) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		rec := &statusRecorder{ResponseWriter: w}
		h := rec.Header()
		// API responses are per-request data; keep CloudFront and browsers from caching them.
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		defer func() {
			if p := recover(); p != nil {
				a.Log.Error("panic", "panic", fmt.Sprint(p), "path", r.URL.Path)
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			// Health checks arrive every few seconds; logging them would drown real traffic.
			if r.URL.Path == "/api/health" && rec.status == http.StatusOK {
				return
			}
			a.Log.Info("request",
				"method", r.Method,
				"path", r.URL.Path,
				"status", rec.status,
				"duration_ms", time.Since(start).Milliseconds(),
				"client", clientAddr(r, a.Limits.ProxyHops),
				"api_key", rec.apiKey,
				"request_id", firstNonEmpty(r.Header.Get("X-Amz-Cf-Id"), r.Header.Get("X-Amzn-Trace-Id")),
			)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeUnavailable(w http.ResponseWriter, retryAfter int, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	writeError(w, http.StatusServiceUnavailable, msg)
}

// dbUnavailable tells a database that is down, restarting, overloaded or too
// slow (the client should retry later: 503) from a bug (500).
func dbUnavailable(err error) bool {
	if errors.Is(err, errNotReady) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources (e.g. too many connections)
			pe.Code == "57014",                                         // statement timeout
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, crash, starting up
			pe.Code == "55P03",                     // lock timeout
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "42P01": // measurements missing: schema not (yet) created
			return true
		}
	}
	return false
}

// writeStoreError maps database failures to a status without leaking SQL details.
func (a *API) writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errTooManyPoints):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("the range holds more than %d points; narrow from/to", readMaxPoints))
	case dbUnavailable(err):
		if !errors.Is(err, errNotReady) {
			a.Log.Warn("database unavailable", "path", r.URL.Path, "error", err.Error())
		}
		writeUnavailable(w, retryAfterDB, "database unavailable, retry shortly")
	default:
		a.Log.Error("database error", "path", r.URL.Path, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "database error")
	}
}

// health is the cheap public check (ALB target group, container health
// check): it never touches the database.
func (a *API) health(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("deep") {
		// The deep check moved; answering 200 here would pass off the shallow
		// check as the deep one.
		writeError(w, http.StatusBadRequest, "the deep health check is GET /api/health/deep with an X-Api-Key header")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "env": a.Env})
}

// deepHealth checks the database, over its own connection, for holders of an
// API key only: anonymous requests are refused before any database work.
func (a *API) deepHealth(w http.ResponseWriter, r *http.Request) {
	key, ok := a.authorized(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Api-Key")
		return
	}
	noteKey(w, key)
	resp := map[string]string{"status": "ok", "env": a.Env, "db": "ok"}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		resp["status"] = "error"
		resp["db"] = "unavailable"
		if errors.Is(err, errSchemaMissing) {
			resp["db"] = "schema missing: run /app -migrate"
		}
		a.Log.Warn("deep health check failed", "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterDB))
		writeJSON(w, http.StatusServiceUnavailable, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func validSeriesName(name string) error {
	if name == "" {
		return errors.New("name is required")
	}
	if len(name) > maxSeriesLength || !seriesName.MatchString(name) {
		return fmt.Errorf("name must be 1-%d characters of letters, digits, '_', '.', ':' or '-', starting with a letter or digit", maxSeriesLength)
	}
	return nil
}

// parseTime accepts RFC 3339 date-times only. time.Parse alone also accepts
// offsets such as +24:00 (RFC 3339 allows hours 00-23, minutes 00-59) and a
// comma before the fraction. Checked by hand: a regexp cost 20% of the CPU of
// a 1,000-point write.
func parseTime(v string) (time.Time, bool) {
	n := len(v)
	if n < 20 || n > 35 {
		return time.Time{}, false
	}
	digits := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	if !digits(v[0:4]) || v[4] != '-' || !digits(v[5:7]) || v[7] != '-' || !digits(v[8:10]) ||
		(v[10] != 'T' && v[10] != 't') || !digits(v[11:13]) || v[13] != ':' || !digits(v[14:16]) ||
		v[16] != ':' || !digits(v[17:19]) {
		return time.Time{}, false
	}
	i := 19
	if v[i] == '.' {
		j := i + 1
		for j < n && v[j] >= '0' && v[j] <= '9' {
			j++
		}
		if j == i+1 || j-i-1 > 9 {
			return time.Time{}, false
		}
		i = j
	}
	switch zone := v[i:]; {
	case zone == "Z" || zone == "z":
	case len(zone) == 6 && (zone[0] == '+' || zone[0] == '-') && digits(zone[1:3]) && zone[3] == ':' &&
		digits(zone[4:6]) && zone[1:3] <= "23" && zone[4:6] <= "59":
	default:
		return time.Time{}, false
	}
	if v[10] == 't' || v[n-1] == 'z' {
		v = strings.ToUpper(v)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// clientLimiter counts reads in flight per client.
type clientLimiter struct {
	mu    sync.Mutex
	max   int
	inUse map[string]int
}

func (l *clientLimiter) acquire(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse[key] >= l.max {
		return false
	}
	l.inUse[key]++
	return true
}

func (l *clientLimiter) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inUse[key] <= 1 {
		delete(l.inUse, key) // the map holds only clients with reads in flight
		return
	}
	l.inUse[key]--
}

// clientAddr identifies the client behind hops proxies that each append the
// address they received the request from to X-Forwarded-For (CloudFront adds
// the viewer, the ALB adds the CloudFront address). Entries further left are
// whatever the client sent and are not trusted.
func clientAddr(r *http.Request, hops int) string {
	if hops > 0 {
		var parts []string
		for _, h := range r.Header.Values("X-Forwarded-For") {
			for _, p := range strings.Split(h, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
		}
		if len(parts) > 0 {
			return parts[max(0, len(parts)-hops)]
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// admitRead takes a per-client slot and a database read slot, or answers 429/503.
func (a *API) admitRead(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	client := clientAddr(r, a.Limits.ProxyHops)
	if !a.perClient.acquire(client) {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterBusy))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("at most %d reads per client at a time", a.Limits.ReadsPerClient))
		return nil, false
	}
	wait := time.NewTimer(a.Limits.ReadQueueWait)
	defer wait.Stop()
	select {
	case a.slots <- struct{}{}:
		return func() { <-a.slots; a.perClient.release(client) }, true
	case <-wait.C:
	case <-r.Context().Done():
	}
	a.perClient.release(client)
	writeUnavailable(w, retryAfterBusy, "too many reads in progress, retry shortly")
	return nil, false
}

type seriesResponse struct {
	Name   string    `json:"name"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Bucket string    `json:"bucket"`
	Points []Bucket  `json:"points"`
}

func (a *API) getSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if err := validSeriesName(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	bucketName := q.Get("bucket")
	if bucketName == "" {
		bucketName = "1m"
	}
	bucket, ok := bucketSizes[bucketName]
	if !ok {
		writeError(w, http.StatusBadRequest, "bucket must be one of 1m, 5m, 1h")
		return
	}
	to := a.Now().UTC()
	if v := q.Get("to"); v != "" {
		t, ok := parseTime(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "to must be an RFC 3339 timestamp, e.g. 2024-01-02T15:04:05Z")
			return
		}
		to = t
	}
	from := to.Add(-defaultRange)
	if v := q.Get("from"); v != "" {
		t, ok := parseTime(v)
		if !ok {
			writeError(w, http.StatusBadRequest, "from must be an RFC 3339 timestamp, e.g. 2024-01-02T14:04:05Z")
			return
		}
		from = t
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from must be before to")
		return
	}
	if to.Sub(from) > readMaxRange {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("range too large: one read covers at most %s", fmtDuration(readMaxRange)))
		return
	}
	if to.Sub(from)/bucket > maxBuckets {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("range too large for bucket %s: at most %d buckets", bucketName, maxBuckets))
		return
	}

	release, ok := a.admitRead(w, r)
	if !ok {
		return
	}
	defer release()
	points, err := a.Store.Aggregate(r.Context(), name, from, to, bucket, readMaxPoints)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if points == nil {
		points = []Bucket{}
	}
	writeJSON(w, http.StatusOK, seriesResponse{Name: name, From: from.UTC(), To: to.UTC(), Bucket: bucketName, Points: points})
}

type listResponse struct {
	Series []SeriesInfo `json:"series"`
	// Next is the "after" value for the next page, or null on the last page.
	Next *string `json:"next"`
}

func (a *API) listSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > listMaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a number from 1 to %d", listMaxLimit))
			return
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" {
		if err := validSeriesName(after); err != nil {
			writeError(w, http.StatusBadRequest, "after: "+err.Error())
			return
		}
	}
	release, ok := a.admitRead(w, r)
	if !ok {
		return
	}
	defer release()
	// One more than asked tells whether another page follows.
	list, err := a.Store.ListSeries(r.Context(), after, a.Now().Add(-listWindow), limit+1)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	resp := listResponse{Series: list}
	if len(list) > limit {
		resp.Series = list[:limit]
		next := list[limit-1].Name
		resp.Next = &next
	}
	if resp.Series == nil {
		resp.Series = []SeriesInfo{}
	}
	writeJSON(w, http.StatusOK, resp)
}

type inputPoint struct {
	Time  *string  `json:"time"`
	Value *float64 `json:"value"`
}

type seriesInput struct {
	Name   string       `json:"name"`
	Points []inputPoint `json:"points"`
}

// authorized compares X-Api-Key with the current and the previous key, both
// in constant time and always both, so the timing tells neither whether a key
// matched nor which. It says which key matched, for the request log: when no
// request uses "previous" any more, the rotation can be finished.
func (a *API) authorized(r *http.Request) (key string, ok bool) {
	got := []byte(r.Header.Get("X-Api-Key"))
	// An unset key must never match an empty header.
	if len(got) == 0 || a.APIKey == "" {
		return "", false
	}
	cur := subtle.ConstantTimeCompare(got, []byte(a.APIKey))
	prev := 0
	if a.APIKeyPrevious != "" {
		prev = subtle.ConstantTimeCompare(got, []byte(a.APIKeyPrevious))
	}
	switch {
	case cur == 1:
		return "current", true
	case prev == 1:
		return "previous", true
	}
	return "", false
}

// jsonErrorMessage describes a decoding error in JSON terms, without the Go
// types and struct names encoding/json puts in its messages.
func jsonErrorMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		want := "a valid value"
		switch typeErr.Type.Kind() {
		case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
			want = "a number"
		case reflect.String:
			want = "a string"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Struct, reflect.Map, reflect.Pointer:
			want = "an object"
		}
		field := typeErr.Field
		if field == "" {
			field = "the body"
		}
		return fmt.Sprintf("invalid JSON body: %s must be %s, got %s", field, want, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("invalid JSON body: syntax error at byte %d", syntaxErr.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "invalid JSON body: unexpected end of input"
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "invalid JSON body: unknown field " + f
	}
	return "invalid JSON body"
}

func (a *API) postSeries(w http.ResponseWriter, r *http.Request) {
	if a.APIKey == "" {
		writeError(w, http.StatusServiceUnavailable, "writes are disabled: API_KEY is not configured")
		return
	}
	key, ok := a.authorized(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Api-Key")
		return
	}
	noteKey(w, key)
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}

	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var in seriesInput
	if err := dec.Decode(&in); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body must be at most %d bytes", maxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, jsonErrorMessage(err))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "invalid JSON body: unexpected data after the object")
		return
	}
	if err := validSeriesName(in.Name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(in.Points) == 0 || len(in.Points) > maxPoints {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("points must contain 1 to %d items", maxPoints))
		return
	}
	now := a.Now()
	oldest, newest := now.Add(-a.Limits.Retention), now.Add(a.Limits.MaxFuture)
	points := make([]Point, len(in.Points))
	for i, p := range in.Points {
		if p.Time == nil || p.Value == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d]: time and value are required", i))
			return
		}
		t, ok := parseTime(*p.Time)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d].time must be an RFC 3339 timestamp, e.g. 2024-01-02T15:04:05Z", i))
			return
		}
		if t.Before(oldest) || t.After(newest) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d].time must be within the accepted window: not older than %s (the retention) and not more than %s in the future",
				i, fmtDuration(a.Limits.Retention), fmtDuration(a.Limits.MaxFuture)))
			return
		}
		v := *p.Value
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxAbsValue {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d].value must be a finite number between -1e100 and 1e100", i))
			return
		}
		points[i] = Point{Time: t, Value: v}
	}

	n, err := a.Store.Insert(r.Context(), in.Name, points)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "stored": n})
}
