package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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

// Store is what the HTTP handlers need from the database; tests substitute a fake.
type Store interface {
	Ping(ctx context.Context) error
	Aggregate(ctx context.Context, series string, from, to time.Time, bucket time.Duration) ([]Bucket, error)
	Insert(ctx context.Context, series string, points []Point) (int64, error)
}

// errNotReady is returned while the schema bootstrap has not finished yet.
var errNotReady = errors.New("database not ready")

// PGStore implements Store on PostgreSQL.
type PGStore struct {
	pool  *pgxpool.Pool
	ready func() bool
}

// NewPGStore wraps a pool; ready reports whether the schema bootstrap has completed.
func NewPGStore(pool *pgxpool.Pool, ready func() bool) *PGStore {
	if ready == nil {
		ready = func() bool { return true }
	}
	return &PGStore{pool: pool, ready: ready}
}

func (s *PGStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return err
	}
	if !s.ready() {
		return errNotReady
	}
	return nil
}

// aggregateSQL uses date_bin (PostgreSQL 14+) rather than time_bucket so that the
// same query runs on plain, natively partitioned and TimescaleDB tables. The
// origin is fixed so bucket boundaries are stable across requests.
const aggregateSQL = `
SELECT date_bin($1::interval, time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
       avg(value), min(value), max(value), count(*)
FROM measurements
WHERE series = $2 AND time >= $3 AND time < $4
GROUP BY bucket
ORDER BY bucket`

func (s *PGStore) Aggregate(ctx context.Context, series string, from, to time.Time, bucket time.Duration) ([]Bucket, error) {
	if !s.ready() {
		return nil, errNotReady
	}
	rows, err := s.pool.Query(ctx, aggregateSQL, bucket, series, from, to)
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
	return out, nil
}

func (s *PGStore) Insert(ctx context.Context, series string, points []Point) (int64, error) {
	if !s.ready() {
		return 0, errNotReady
	}
	n, err := s.pool.CopyFrom(ctx,
		pgx.Identifier{"measurements"},
		[]string{"series", "time", "value"},
		pgx.CopyFromSlice(len(points), func(i int) ([]any, error) {
			return []any{series, points[i].Time, points[i].Value}, nil
		}),
	)
	if err != nil {
		return 0, fmt.Errorf("copy measurements: %w", err)
	}
	return n, nil
}
