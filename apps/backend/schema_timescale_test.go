package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// No TimescaleDB server is available to these tests (Debian does not package
// it), so the TimescaleDB mode is checked by recording the SQL it sends. What
// this does NOT prove: that TimescaleDB accepts these statements, that its
// retention job runs, or that ON CONFLICT behaves on compressed chunks; the
// integration test TestIntegrationTimescaleDB runs them when a server with
// the extension is given in TSA_TEST_DATABASE_URL.

type recordedSQL struct {
	sql  string
	args []any
}

// recorder is a sqlExec that records statements and answers the bootstrap's
// questions from answers (matched by a substring of the query).
type recorder struct {
	stmts   []recordedSQL
	answers map[string]any
	failOn  string
}

func (r *recorder) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r.stmts = append(r.stmts, recordedSQL{sql, args})
	if r.failOn != "" && strings.Contains(sql, r.failOn) {
		return pgconn.CommandTag{}, errors.New("feature not supported")
	}
	if strings.HasPrefix(sql, "DELETE") {
		return pgconn.NewCommandTag("DELETE 0"), nil
	}
	return pgconn.NewCommandTag("SELECT 1"), nil
}

func (r *recorder) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	r.stmts = append(r.stmts, recordedSQL{sql, args})
	for k, v := range r.answers {
		if strings.Contains(sql, k) {
			return fakeRow{v}
		}
	}
	return fakeRow{fmt.Errorf("unexpected query %q", sql)}
}

type fakeRow struct{ v any }

func (f fakeRow) Scan(dest ...any) error {
	if err, ok := f.v.(error); ok {
		return err
	}
	*(dest[0].(*bool)) = f.v.(bool)
	return nil
}

func (r *recorder) index(t *testing.T, sql string) int {
	t.Helper()
	for i, s := range r.stmts {
		if s.sql == sql {
			return i
		}
	}
	t.Fatalf("statement not sent: %s\nsent:\n%s", sql, r.dump())
	return -1
}

func (r *recorder) dump() string {
	var b strings.Builder
	for _, s := range r.stmts {
		fmt.Fprintf(&b, "  %s %v\n", firstLine(s.sql), s.args)
	}
	return b.String()
}

func TestTimescaleBootstrapSQL(t *testing.T) {
	r := &recorder{answers: map[string]any{"to_regclass": false, "compression_enabled": false}}
	if err := bootstrapTimescale(context.Background(), r, 90*24*time.Hour, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("bootstrapTimescale: %v", err)
	}
	order := []string{
		tsCreateExtension,
		tsCreateTable,
		tsCreateHypertable,
		dedupeSQL,       // databases from before idempotent writes may hold duplicates
		createUniqueSQL, // the conflict target of the upsert, as in the other modes
		dropOldIndexSQL,
		tsRemoveRetention,
		tsAddRetention,
		tsEnableCompression,
		tsCompressionPolicy,
	}
	last := -1
	for _, s := range order {
		i := r.index(t, s)
		if i <= last {
			t.Fatalf("statement out of order: %s\nsent:\n%s", firstLine(s), r.dump())
		}
		last = i
	}
	if got := r.stmts[r.index(t, tsAddRetention)].args; len(got) != 1 || got[0] != "90 days" {
		t.Errorf("retention policy args = %v, want [90 days]", got)
	}
	// The upsert the store sends must find a unique index on exactly (series, time).
	if !strings.Contains(createUniqueSQL, "UNIQUE INDEX") || !strings.Contains(createUniqueSQL, "(series, time)") ||
		!strings.Contains(upsertSQL, "ON CONFLICT (series, time) DO UPDATE SET value = EXCLUDED.value") {
		t.Errorf("unique key and upsert disagree:\n%s\n%s", createUniqueSQL, upsertSQL)
	}
	if !strings.Contains(tsCreateHypertable, "if_not_exists => TRUE") {
		t.Errorf("create_hypertable must be idempotent: %s", tsCreateHypertable)
	}
}

// A second run (index present, compression on) sends no dedupe and no ALTER,
// but re-applies the retention so a changed DATA_RETENTION takes effect.
func TestTimescaleBootstrapSQLIsIdempotent(t *testing.T) {
	r := &recorder{answers: map[string]any{"to_regclass": true, "compression_enabled": true}}
	if err := bootstrapTimescale(context.Background(), r, 36*time.Hour, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.stmts {
		if s.sql == dedupeSQL || s.sql == tsEnableCompression || s.sql == createUniqueSQL {
			t.Errorf("second run sent %s", firstLine(s.sql))
		}
	}
	if got := r.stmts[r.index(t, tsAddRetention)].args; got[0] != "129600 seconds" {
		t.Errorf("retention args = %v, want [129600 seconds]", got)
	}
}

// A build without compression (Apache-2 only) still bootstraps; the failure
// is rolled back to a savepoint so the transaction stays usable.
func TestTimescaleWithoutCompression(t *testing.T) {
	r := &recorder{answers: map[string]any{"to_regclass": true, "compression_enabled": false}, failOn: "timescaledb.compress"}
	if err := bootstrapTimescale(context.Background(), r, 90*24*time.Hour, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("bootstrapTimescale without compression: %v", err)
	}
	r.index(t, "ROLLBACK TO SAVEPOINT tsa_best_effort")
	for _, s := range r.stmts {
		if s.sql == tsCompressionPolicy {
			t.Errorf("compression policy added although compression failed")
		}
	}
}
