package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// blockingStore holds every read until released and counts reads inside.
type blockingStore struct {
	fakeStore
	mu      sync.Mutex
	inside  int
	peak    int
	entered chan struct{}
	release chan struct{}
}

func newBlockingStore() *blockingStore {
	return &blockingStore{entered: make(chan struct{}, 64), release: make(chan struct{})}
}

func (b *blockingStore) Aggregate(ctx context.Context, s string, from, to time.Time, bucket time.Duration, maxPoints int) ([]Bucket, error) {
	b.mu.Lock()
	b.inside++
	b.peak = max(b.peak, b.inside)
	b.mu.Unlock()
	b.entered <- struct{}{}
	<-b.release
	b.mu.Lock()
	b.inside--
	b.mu.Unlock()
	return nil, nil
}

func readsAPI(store Store, l Limits) http.Handler {
	api := &API{Env: "test", Store: store, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return fixedNow }, Limits: l}
	return api.Handler()
}

// fire sends n reads from addr (RemoteAddr, X-Forwarded-For) concurrently and
// returns their status codes once the store has admitted want of them.
func fire(t *testing.T, h http.Handler, n int, remote, xff string) <-chan int {
	t.Helper()
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			req := httptest.NewRequest("GET", "/api/series?name=cpu", nil)
			req.RemoteAddr = remote
			if xff != "" {
				req.Header.Set("X-Forwarded-For", xff)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			codes <- rec.Code
		}()
	}
	return codes
}

func waitEntered(t *testing.T, s *blockingStore, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-s.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d reads reached the store, want %d", i, n)
		}
	}
}

func collect(t *testing.T, codes <-chan int, n int) map[int]int {
	t.Helper()
	got := map[int]int{}
	for i := 0; i < n; i++ {
		select {
		case c := <-codes:
			got[c]++
		case <-time.After(10 * time.Second):
			t.Fatalf("request %d of %d did not finish", i, n)
		}
	}
	return got
}

// Issue #16, 4: 16 parallel reads from one client: 4 reach the database, the
// others are refused at once with 429 instead of queueing on the pool.
func TestOneClientCannotTakeEveryRead(t *testing.T) {
	store := newBlockingStore()
	h := readsAPI(store, Limits{ReadsPerClient: 4, ReadSlots: 8})
	codes := fire(t, h, 16, "192.0.2.7:1234", "")
	waitEntered(t, store, 4)
	refused := collect(t, codes, 12)
	close(store.release)
	done := collect(t, codes, 4)
	if refused[429] != 12 || done[200] != 4 || store.peak != 4 {
		t.Errorf("refused %v, completed %v, peak in store %d; want 12x429, 4x200, peak 4", refused, done, store.peak)
	}
}

// Other clients still get reads while one client is at its limit, and all
// clients together cannot take more than the read slots: the rest wait
// briefly, then get 503 with Retry-After.
func TestReadSlotsAreShared(t *testing.T) {
	store := newBlockingStore()
	h := readsAPI(store, Limits{ReadsPerClient: 2, ReadSlots: 3, ReadQueueWait: 50 * time.Millisecond})
	a := fire(t, h, 2, "192.0.2.1:1", "")
	waitEntered(t, store, 2)
	b := fire(t, h, 1, "192.0.2.2:1", "")
	waitEntered(t, store, 1)

	req := httptest.NewRequest("GET", "/api/series?name=cpu", nil)
	req.RemoteAddr = "192.0.2.3:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("read beyond the slots: %d Retry-After=%q, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(store.release)
	if got := collect(t, a, 2); got[200] != 2 {
		t.Errorf("client A: %v", got)
	}
	if got := collect(t, b, 1); got[200] != 1 {
		t.Errorf("client B: %v", got)
	}
}

// Behind CloudFront and the ALB the TCP peer is always the ALB: the client is
// the entry CloudFront appended, two from the right.
func TestClientAddr(t *testing.T) {
	for _, c := range []struct {
		remote, xff string
		hops        int
		want        string
	}{
		{"10.0.1.5:4000", "203.0.113.9, 130.176.1.1", 2, "203.0.113.9"},
		{"10.0.1.5:4000", "1.2.3.4, 203.0.113.9, 130.176.1.1", 2, "203.0.113.9"}, // spoofed entry ignored
		{"10.0.1.5:4000", "130.176.1.1", 2, "130.176.1.1"},
		{"10.0.1.5:4000", "", 2, "10.0.1.5"},
		{"10.0.1.5:4000", "203.0.113.9, 130.176.1.1", 0, "10.0.1.5"},
		{"10.0.1.5:4000", "203.0.113.9, 130.176.1.1", 1, "130.176.1.1"},
		{"[2001:db8::1]:4000", "", 2, "2001:db8::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddr(r, c.hops); got != c.want {
			t.Errorf("clientAddr(%q, %q, %d) = %q, want %q", c.remote, c.xff, c.hops, got, c.want)
		}
	}
}

// Issue #12, 3 / #16, 4: one read covers at most 31 days and 10,000 buckets,
// refused before the database.
func TestReadRangeCap(t *testing.T) {
	for _, c := range []struct {
		q, want string
	}{
		{"from=2023-05-01T00:00:00Z&to=2024-05-01T00:00:00Z&bucket=1h", "at most 31d"},
		{"from=2024-03-01T00:00:00Z&to=2024-04-01T00:00:01Z&bucket=1h", "at most 31d"},
		{"from=2024-04-01T00:00:00Z&to=2024-04-08T00:00:00Z&bucket=1m", "at most 10000 buckets"},
	} {
		store := &fakeStore{}
		rec, body := do(t, newTestAPI(store), "GET", "/api/series?name=cpu&"+c.q, "", nil)
		msg, _ := body["error"].(string)
		if rec.Code != 400 || !strings.Contains(msg, c.want) || store.aggCalls != 0 {
			t.Errorf("%s: %d %q (store calls %d), want 400 containing %q", c.q, rec.Code, msg, store.aggCalls, c.want)
		}
	}
	store := &fakeStore{}
	rec, _ := do(t, newTestAPI(store), "GET", "/api/series?name=cpu&from=2024-03-01T00:00:00Z&to=2024-04-01T00:00:00Z&bucket=1h", "", nil)
	if rec.Code != 200 {
		t.Errorf("exactly 31 days at 1h: %d", rec.Code)
	}
}

// Issue #16, 5: a paged listing of series with recent data.
func TestListSeries(t *testing.T) {
	last := fixedNow.Add(-time.Minute)
	store := &fakeStore{list: []SeriesInfo{{"a", last}, {"b", last}, {"c", last}}}
	rec, body := do(t, newTestAPI(store), "GET", "/api/series/list?limit=2&after=0", "", nil)
	if rec.Code != 200 || store.gotLimit != 3 || store.gotAfter != "0" || !store.gotSince.Equal(fixedNow.Add(-listWindow)) {
		t.Fatalf("%d %v; store got after=%q since=%v limit=%d", rec.Code, body, store.gotAfter, store.gotSince, store.gotLimit)
	}
	series, _ := body["series"].([]any)
	if len(series) != 2 || body["next"] != "b" {
		t.Fatalf("page = %v, want a, b and next=b", body)
	}
	store = &fakeStore{list: []SeriesInfo{{"a", last}}}
	_, body = do(t, newTestAPI(store), "GET", "/api/series/list", "", nil)
	if body["next"] != nil || store.gotLimit != 51 {
		t.Fatalf("last page: %v (limit %d), want next=null, default limit 50", body, store.gotLimit)
	}
	_, body = do(t, newTestAPI(&fakeStore{}), "GET", "/api/series/list", "", nil)
	if s, ok := body["series"].([]any); !ok || len(s) != 0 {
		t.Fatalf("empty listing must be [], got %v", body)
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=x", "after=bad%20name"} {
		store := &fakeStore{}
		rec, _ := do(t, newTestAPI(store), "GET", "/api/series/list?"+q, "", nil)
		if rec.Code != 400 || store.listCalls != 0 {
			t.Errorf("?%s: %d, want 400 before the database", q, rec.Code)
		}
	}
}
