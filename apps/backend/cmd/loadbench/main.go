// Command loadbench drives a running backend over loopback and prints
// throughput and p50/p99 latency for single-point writes, batch writes and
// reads. It refuses any target that is not a loopback address and every phase
// is bounded in time, so it cannot be pointed at a deployed environment by
// mistake. scripts/loadbench.sh starts a throw-away PostgreSQL and server and
// runs it; see apps/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	maxPhase     = time.Minute
	seedPoints   = 24 * 3600 // one point per second for a day, read back by the read phases
	seedBatch    = 1000
	pointSpacing = time.Millisecond
)

type options struct {
	base         *url.URL
	key          string
	duration     time.Duration
	writeClients int
	batchClients int
	batchSize    int
	readClients  int
	wait         time.Duration
	phases       []string
}

func main() {
	var (
		rawURL = flag.String("url", "http://127.0.0.1:8080", "backend base URL; must resolve to loopback addresses only")
		o      options
		phases string
	)
	flag.StringVar(&o.key, "key", os.Getenv("API_KEY"), "API key for writes (default $API_KEY)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each phase (at most 1m)")
	flag.IntVar(&o.writeClients, "write-clients", 64, "concurrent clients posting one point per request")
	flag.IntVar(&o.batchClients, "batch-clients", 4, "concurrent clients posting batches")
	flag.IntVar(&o.batchSize, "batch-size", 1000, "points per batch request")
	flag.IntVar(&o.readClients, "read-clients", 4, "concurrent clients reading")
	flag.DurationVar(&o.wait, "wait", 0, "wait up to this long for the backend to accept a write before starting (at most 5m)")
	flag.StringVar(&phases, "phases", "writes,batches,reads", "comma-separated phases: writes, batches, reads")
	flag.Parse()

	if err := o.validate(*rawURL, phases); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

func (o *options) validate(rawURL, phases string) error {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url must be an http:// URL, got %q", rawURL)
	}
	if err := requireLoopback(u.Hostname()); err != nil {
		return err
	}
	o.base = u
	if o.wait < 0 || o.wait > 5*time.Minute {
		return errors.New("-wait must be between 0 and 5m")
	}
	if o.duration <= 0 || o.duration > maxPhase {
		return fmt.Errorf("-duration must be between 1ns and %v", maxPhase)
	}
	for _, n := range []struct {
		name string
		v    int
		max  int
	}{{"-write-clients", o.writeClients, 256}, {"-batch-clients", o.batchClients, 64}, {"-batch-size", o.batchSize, 10000}, {"-read-clients", o.readClients, 64}} {
		if n.v < 1 || n.v > n.max {
			return fmt.Errorf("%s must be between 1 and %d", n.name, n.max)
		}
	}
	for _, p := range strings.Split(phases, ",") {
		p = strings.TrimSpace(p)
		switch p {
		case "writes", "batches", "reads":
			o.phases = append(o.phases, p)
		default:
			return fmt.Errorf("unknown phase %q (writes, batches, reads)", p)
		}
	}
	if o.key == "" {
		return errors.New("an API key is needed (every phase writes, reads seed their data): set -key or API_KEY")
	}
	return nil
}

// requireLoopback refuses hosts that resolve to anything but loopback addresses.
func requireLoopback(host string) error {
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("resolve %q: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("refusing to load %s: it resolves to %s, which is not a loopback address", host, ip)
		}
	}
	if len(ips) == 0 {
		return fmt.Errorf("%q resolves to no address", host)
	}
	return nil
}

type result struct {
	phase     string
	clients   int
	elapsed   time.Duration
	latencies []time.Duration // successful requests only
	points    int64
	statuses  map[int]int
	netErrors int
}

type worker struct {
	client *http.Client
	o      options
}

func run(o options, out io.Writer) error {
	w := worker{o: o, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	runID := time.Now().UTC().Format("150405")
	// A probe write proves the schema is ready (data endpoints answer 503 until then).
	deadline := time.Now().Add(o.wait)
	for {
		status, err := w.post("bench-"+runID+"-probe", []point{{Time: ts(time.Now().Add(-time.Minute)), Value: 1}})
		if err == nil && status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("backend at %s does not accept writes (status %d, %v)", o.base, status, err)
		}
		time.Sleep(250 * time.Millisecond)
	}

	// All data lies in the recent past, inside any sensible accepted write window.
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	fmt.Fprintf(out, "loadbench %s: %v per phase, run %s\n", o.base, o.duration, runID)

	var results []result
	for _, p := range o.phases {
		switch p {
		case "writes":
			results = append(results, w.writes(runID, base))
		case "batches":
			results = append(results, w.batches(runID, base))
		case "reads":
			rs, err := w.reads(runID)
			if err != nil {
				return err
			}
			results = append(results, rs...)
		}
	}
	report(out, results)
	return nil
}

type point struct {
	Time  string  `json:"time"`
	Value float64 `json:"value"`
}

func (w worker) post(name string, pts []point) (int, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "points": pts})
	req, err := http.NewRequest(http.MethodPost, w.o.base.JoinPath("/api/series").String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", w.o.key)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// phase runs fn in each of n clients until the deadline and collects latencies.
func phase(name string, n int, d time.Duration, fn func(client int, seq int) (status int, points int, err error)) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu     sync.Mutex
		res    = result{phase: name, clients: n, statuses: map[int]int{}}
		points atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			statuses := map[int]int{}
			netErrs := 0
			for seq := 0; ctx.Err() == nil; seq++ {
				t0 := time.Now()
				status, pts, err := fn(c, seq)
				el := time.Since(t0)
				switch {
				case err != nil:
					netErrs++
				case status >= 200 && status < 300:
					lat = append(lat, el)
					points.Add(int64(pts))
				}
				if err == nil {
					statuses[status]++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, v := range statuses {
				res.statuses[k] += v
			}
			res.netErrors += netErrs
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.points = points.Load()
	return res
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (w worker) writes(runID string, base time.Time) result {
	return phase("writes (1 point)", w.o.writeClients, w.o.duration, func(c, seq int) (int, int, error) {
		name := fmt.Sprintf("bench-%s-w%d", runID, c)
		status, err := w.post(name, []point{{Time: ts(base.Add(time.Duration(seq) * pointSpacing)), Value: float64(seq % 100)}})
		return status, 1, err
	})
}

func (w worker) batches(runID string, base time.Time) result {
	n := w.o.batchSize
	name := fmt.Sprintf("batches (%d points)", n)
	return phase(name, w.o.batchClients, w.o.duration, func(c, seq int) (int, int, error) {
		series := fmt.Sprintf("bench-%s-b%d", runID, c)
		pts := make([]point, n)
		for i := range pts {
			k := seq*n + i
			pts[i] = point{Time: ts(base.Add(time.Duration(k) * pointSpacing)), Value: float64(k % 1000)}
		}
		status, err := w.post(series, pts)
		return status, n, err
	})
}

// reads seeds one series with a point per second for the past day, then reads
// it back the way the frontend does: the last hour at 1m and the day at 5m.
func (w worker) reads(runID string) ([]result, error) {
	series := fmt.Sprintf("bench-%s-r", runID)
	end := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	start := end.Add(-seedPoints * time.Second)
	for i := 0; i < seedPoints; i += seedBatch {
		pts := make([]point, 0, seedBatch)
		for k := i; k < i+seedBatch && k < seedPoints; k++ {
			pts = append(pts, point{Time: ts(start.Add(time.Duration(k) * time.Second)), Value: float64(k % 600)})
		}
		status, err := w.post(series, pts)
		if err != nil || status != http.StatusCreated {
			return nil, fmt.Errorf("seeding %s: status %d, %v", series, status, err)
		}
	}
	read := func(from time.Time, bucket string) func(int, int) (int, int, error) {
		q := url.Values{"name": {series}, "from": {ts(from)}, "to": {ts(end)}, "bucket": {bucket}}
		target := w.o.base.JoinPath("/api/series").String() + "?" + q.Encode()
		points := int(end.Sub(from) / time.Second)
		return func(int, int) (int, int, error) {
			resp, err := w.client.Get(target)
			if err != nil {
				return 0, 0, err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, points, nil
		}
	}
	return []result{
		phase("reads (1h at 1m, 3.6k points)", w.o.readClients, w.o.duration, read(end.Add(-time.Hour), "1m")),
		phase("reads (24h at 5m, 86k points)", w.o.readClients, w.o.duration, read(start, "5m")),
	}, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func report(out io.Writer, results []result) {
	fmt.Fprintf(out, "%-32s %7s %9s %9s %11s %10s %10s  %s\n", "phase", "clients", "ok", "req/s", "points/s", "p50", "p99", "other outcomes")
	for _, r := range results {
		sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
		secs := r.elapsed.Seconds()
		var other []string
		codes := make([]int, 0, len(r.statuses))
		for c := range r.statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			if c < 200 || c >= 300 {
				other = append(other, fmt.Sprintf("%d x%d", c, r.statuses[c]))
			}
		}
		if r.netErrors > 0 {
			other = append(other, fmt.Sprintf("network errors x%d", r.netErrors))
		}
		if len(other) == 0 {
			other = []string{"none"}
		}
		fmt.Fprintf(out, "%-32s %7d %9d %9.0f %11.0f %10s %10s  %s\n",
			r.phase, r.clients, len(r.latencies), float64(len(r.latencies))/secs, float64(r.points)/secs,
			ms(percentile(r.latencies, 0.50)), ms(percentile(r.latencies, 0.99)), strings.Join(other, ", "))
	}
}
