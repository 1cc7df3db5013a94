package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Point is one raw measurement.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Bucket is one time-bucketed aggregate.
type Bucket struct {
	Time  time.Time `json:"time"`
	Avg   float64   `json:"avg"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Count int64     `json:"count"`
}

// SeriesInfo is one entry of the series listing.
type SeriesInfo struct {
	Name string    `json:"name"`
	Last time.Time `json:"last"`
}

// Store is what the HTTP handlers need from the database; tests substitute a fake.
type Store interface {
	// Ping checks the database through the health checks' own connection budget.
	Ping(ctx context.Context) error
	// Aggregate returns errTooManyPoints when the range holds more than maxPoints rows.
	Aggregate(ctx context.Context, series string, from, to time.Time, bucket time.Duration, maxPoints int) ([]Bucket, error)
	// Insert upserts points; it returns how many distinct (series, time) keys were written.
	Insert(ctx context.Context, series string, points []Point) (int64, error)
	// ListSeries pages through series with data at or after since, by name after "after".
	ListSeries(ctx context.Context, after string, since time.Time, limit int) ([]SeriesInfo, error)
}

var (
	// errNotReady is returned until the server has found the schema -migrate creates.
	errNotReady = errors.New("database not ready")
	// errTooManyPoints means a read would scan more rows than allowed.
	errTooManyPoints = errors.New("too many points in range")
)

// PGStore implements Store on PostgreSQL.
type PGStore struct {
	pool   *pgxpool.Pool
	health *pgxpool.Pool
	ready  func() bool
}

// NewPGStore wraps the data pool and the health checks' pool (a separate, small
// budget, so busy reads cannot make the deep health check time out; nil means
// the data pool); ready reports whether the server has found the schema.
func NewPGStore(pool, health *pgxpool.Pool, ready func() bool) *PGStore {
	if ready == nil {
		ready = func() bool { return true }
	}
	if health == nil {
		health = pool
	}
	return &PGStore{pool: pool, health: health, ready: ready}
}

// Ping checks that the database answers and that this role can use the
// schema, over the health checks' own connection.
func (s *PGStore) Ping(ctx context.Context) error {
	return checkSchema(ctx, s.health)
}

// aggregateSQL uses date_bin (PostgreSQL 14+) rather than time_bucket so that the
// same query runs on plain, natively partitioned and TimescaleDB tables. The
// origin is fixed so bucket boundaries are stable across requests. The inner
// LIMIT caps the rows one read may scan: the caller passes its maximum plus one
// and treats a total count above the maximum as "range too dense".
//
// avg cannot overflow: the API accepts |value| <= 1e100, so PostgreSQL's
// float8 accumulators (sum and sum of squared deviations) stay finite for any
// number of rows a bucket can hold.
const aggregateSQL = `
SELECT date_bin($1::interval, time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       avg(value), min(value), max(value), count(*)
FROM (SELECT time, value FROM measurements
      WHERE series = $2 AND time >= $3 AND time < $4
      LIMIT $5) AS m
GROUP BY bucket
ORDER BY bucket`

func (s *PGStore) Aggregate(ctx context.Context, series string, from, to time.Time, bucket time.Duration, maxPoints int) ([]Bucket, error) {
	if !s.ready() {
		return nil, errNotReady
	}
	rows, err := s.pool.Query(ctx, aggregateSQL, bucket, series, from, to, maxPoints+1)
	if err != nil {
		return nil, fmt.Errorf("query aggregates: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Bucket, error) {
		var b Bucket
		err := r.Scan(&b.Time, &b.Avg, &b.Min, &b.Max, &b.Count)
		b.Time = b.Time.UTC()
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("read aggregates: %w", err)
	}
	var total int64
	for _, b := range out {
		total += b.Count
	}
	if total > int64(maxPoints) {
		return nil, errTooManyPoints
	}
	return out, nil
}

// Writes keep one row per (series, time): a repeated write of a key replaces
// its value (the last write wins), and a retry with the same value changes
// nothing, so it leaves no dead row behind. Most writes carry only new keys;
// they go in with a plain INSERT, which costs half of what ON CONFLICT's
// speculative insertion costs per row. Only a batch that hits an existing key
// (unique_violation) is sent again as the upsert.
const (
	insertSQL = `
INSERT INTO measurements (series, time, value)
SELECT $1, t, v FROM unnest($2::timestamptz[], $3::float8[]) AS u(t, v)`
	upsertSQL = insertSQL + `
ON CONFLICT (series, time) DO UPDATE SET value = EXCLUDED.value
WHERE measurements.value IS DISTINCT FROM EXCLUDED.value`
)

// normalizePoints truncates times to PostgreSQL's microsecond precision, sorts
// them and keeps the last value for each time: one statement may not update
// the same row twice, and a fixed order keeps concurrent batches from
// deadlocking on each other's rows.
func normalizePoints(points []Point) []Point {
	out := make([]Point, len(points))
	for i, p := range points {
		out[i] = Point{Time: p.Time.Truncate(time.Microsecond), Value: p.Value}
	}
	slices.SortStableFunc(out, func(a, b Point) int { return a.Time.Compare(b.Time) })
	n := 0
	for i := range out {
		if n > 0 && out[n-1].Time.Equal(out[i].Time) {
			out[n-1] = out[i] // later in the request wins
			continue
		}
		out[n] = out[i]
		n++
	}
	return out[:n]
}

func (s *PGStore) Insert(ctx context.Context, series string, points []Point) (int64, error) {
	if !s.ready() {
		return 0, errNotReady
	}
	pts := normalizePoints(points)
	times := make([]time.Time, len(pts))
	values := make([]float64, len(pts))
	for i, p := range pts {
		times[i], values[i] = p.Time, p.Value
	}
	_, err := s.pool.Exec(ctx, insertSQL, series, times, values)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: a retry or a rewrite
		_, err = s.pool.Exec(ctx, upsertSQL, series, times, values)
	}
	if err != nil {
		return 0, fmt.Errorf("write measurements: %w", err)
	}
	return int64(len(pts)), nil
}

// listSQL walks the (series, time) index from one distinct name to the next (a
// "loose index scan"), so it costs one index probe per partition and name
// rather than a scan of every row; the outer LIMIT stops the recursion.
const listSQL = `
WITH RECURSIVE names AS (
  (SELECT series FROM measurements WHERE series > $1 AND time >= $2 ORDER BY series LIMIT 1)
  UNION ALL
  SELECT (SELECT m.series FROM measurements m
          WHERE m.series > n.series AND m.time >= $2 ORDER BY m.series LIMIT 1)
  FROM names n WHERE n.series IS NOT NULL
)
SELECT n.series, (SELECT max(m.time) FROM measurements m WHERE m.series = n.series AND m.time >= $2)
FROM names n WHERE n.series IS NOT NULL
LIMIT $3`

func (s *PGStore) ListSeries(ctx context.Context, after string, since time.Time, limit int) ([]SeriesInfo, error) {
	if !s.ready() {
		return nil, errNotReady
	}
	rows, err := s.pool.Query(ctx, listSQL, after, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list series: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (SeriesInfo, error) {
		var si SeriesInfo
		err := r.Scan(&si.Name, &si.Last)
		si.Last = si.Last.UTC()
		return si, err
	})
	if err != nil {
		return nil, fmt.Errorf("read series list: %w", err)
	}
	return out, nil
}
