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
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Request limits. They bound memory per request and the size of one COPY.
const (
	maxBodyBytes    = 1 << 20 // 1 MiB
	maxPoints       = 10_000
	maxBuckets      = 10_000
	defaultRange    = time.Hour
	requestTimeout  = 15 * time.Second
	maxSeriesLength = 128
)

var bucketSizes = map[string]time.Duration{
	"1m": time.Minute,
	"5m": 5 * time.Minute,
	"1h": time.Hour,
}

// seriesName keeps names safe to embed in URLs such as /series/NAME in the frontend.
var seriesName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// API holds the handlers' dependencies.
type API struct {
	Env    string
	APIKey string
	Store  Store
	Log    *slog.Logger
	Now    func() time.Time
}

// Handler returns the full HTTP handler with logging, recovery and timeouts.
func (a *API) Handler() http.Handler {
	if a.Now == nil {
		a.Now = time.Now
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", a.health)
	mux.HandleFunc("/api/health", methodNotAllowed("GET, HEAD"))
	mux.HandleFunc("GET /api/series", a.getSeries)
	mux.HandleFunc("POST /api/series", a.postSeries)
	mux.HandleFunc("/api/series", methodNotAllowed("GET, HEAD, POST"))
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

// writeStoreError maps database failures to a status without leaking SQL details.
func (a *API) writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNotReady):
		writeError(w, http.StatusServiceUnavailable, "database not ready, retry shortly")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "database timeout")
	default:
		a.Log.Error("database error", "path", r.URL.Path, "error", err.Error())
		writeError(w, http.StatusInternalServerError, "database error")
	}
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	resp := map[string]string{"status": "ok", "env": a.Env}
	if r.URL.Query().Get("deep") == "1" {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := a.Store.Ping(ctx); err != nil {
			a.Log.Warn("deep health check failed", "error", err.Error())
			resp["status"] = "error"
			resp["db"] = "unavailable"
			writeJSON(w, http.StatusServiceUnavailable, resp)
			return
		}
		resp["db"] = "ok"
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
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "to must be an RFC 3339 timestamp, e.g. 2024-01-02T15:04:05Z")
			return
		}
		to = t
	}
	from := to.Add(-defaultRange)
	if v := q.Get("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "from must be an RFC 3339 timestamp, e.g. 2024-01-02T14:04:05Z")
			return
		}
		from = t
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from must be before to")
		return
	}
	if to.Sub(from)/bucket > maxBuckets {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("range too large for bucket %s: at most %d buckets", bucketName, maxBuckets))
		return
	}

	points, err := a.Store.Aggregate(r.Context(), name, from, to, bucket)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	if points == nil {
		points = []Bucket{}
	}
	writeJSON(w, http.StatusOK, seriesResponse{Name: name, From: from.UTC(), To: to.UTC(), Bucket: bucketName, Points: points})
}

type inputPoint struct {
	Time  *string  `json:"time"`
	Value *float64 `json:"value"`
}

type seriesInput struct {
	Name   string       `json:"name"`
	Points []inputPoint `json:"points"`
}

func (a *API) authorized(r *http.Request) bool {
	got := r.Header.Get("X-Api-Key")
	// An unset API_KEY must never match an empty header.
	if a.APIKey == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(a.APIKey)) == 1
}

func (a *API) postSeries(w http.ResponseWriter, r *http.Request) {
	if a.APIKey == "" {
		writeError(w, http.StatusServiceUnavailable, "writes are disabled: API_KEY is not configured")
		return
	}
	if !a.authorized(r) {
		writeError(w, http.StatusUnauthorized, "missing or invalid X-Api-Key")
		return
	}
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
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
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
	points := make([]Point, len(in.Points))
	for i, p := range in.Points {
		if p.Time == nil || p.Value == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d]: time and value are required", i))
			return
		}
		t, err := time.Parse(time.RFC3339, *p.Time)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d].time must be an RFC 3339 timestamp", i))
			return
		}
		if math.IsNaN(*p.Value) || math.IsInf(*p.Value, 0) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("points[%d].value must be a finite number", i))
			return
		}
		points[i] = Point{Time: t, Value: *p.Value}
	}

	n, err := a.Store.Insert(r.Context(), in.Name, points)
	if err != nil {
		a.writeStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "inserted": n})
}
