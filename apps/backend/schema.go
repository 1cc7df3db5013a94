package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaLockKey serialises bootstrap across tasks that start at the same time.
const schemaLockKey int64 = 0x7473615f736368 // "tsa_sch"

// BootstrapOptions selects how the measurements table is created.
type BootstrapOptions struct {
	Mode string
	// DisablePartman forces the default-partition fallback even where pg_partman
	// is installable; tests use it to cover the fallback on any server.
	DisablePartman bool
}

// BootstrapResult reports what the bootstrap actually set up.
type BootstrapResult struct {
	Mode string
	// PartmanSchema is set when measurements is registered with pg_partman, which
	// then needs run_maintenance to keep creating future partitions.
	PartmanSchema string
	ParentTable   string
}

// Bootstrap creates the schema idempotently in one transaction. Optional
// features (pg_partman, pg_stat_statements, compression) run in savepoints so a
// missing extension or privilege degrades with a warning instead of failing.
func Bootstrap(ctx context.Context, pool *pgxpool.Pool, opts BootstrapOptions, log *slog.Logger) (BootstrapResult, error) {
	res := BootstrapResult{Mode: opts.Mode}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin bootstrap: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
		return res, fmt.Errorf("acquire schema lock: %w", err)
	}
	var schema string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return res, fmt.Errorf("read current schema: %w", err)
	}
	res.ParentTable = schema + ".measurements"

	switch opts.Mode {
	case SchemaPlain:
		err = bootstrapPlain(ctx, tx)
	case SchemaPartman:
		res.PartmanSchema, err = bootstrapPartman(ctx, tx, res.ParentTable, opts.DisablePartman, log)
	case SchemaTimescaleDB:
		err = bootstrapTimescale(ctx, tx, log)
	default:
		err = fmt.Errorf("unknown schema mode %q", opts.Mode)
	}
	if err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit bootstrap: %w", err)
	}
	return res, nil
}

const createTableCols = `(
	series text NOT NULL,
	time   timestamptz NOT NULL,
	value  double precision NOT NULL
)`

func execAll(ctx context.Context, tx pgx.Tx, stmts ...string) error {
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// bestEffort runs fn inside a savepoint so its failure leaves the outer transaction usable.
func bestEffort(ctx context.Context, tx pgx.Tx, fn func(pgx.Tx) error) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(sp); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

func extensionAvailable(ctx context.Context, tx pgx.Tx, name string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)`, name).Scan(&ok)
	return ok, err
}

func bootstrapPlain(ctx context.Context, tx pgx.Tx) error {
	return execAll(ctx, tx,
		`CREATE TABLE IF NOT EXISTS measurements `+createTableCols,
		`CREATE INDEX IF NOT EXISTS measurements_series_time_idx ON measurements (series, time)`,
	)
}

func bootstrapPartman(ctx context.Context, tx pgx.Tx, parent string, disablePartman bool, log *slog.Logger) (string, error) {
	if err := execAll(ctx, tx,
		`CREATE TABLE IF NOT EXISTS measurements `+createTableCols+` PARTITION BY RANGE (time)`,
		`CREATE INDEX IF NOT EXISTS measurements_series_time_idx ON measurements (series, time)`,
	); err != nil {
		return "", err
	}
	var relkind string
	if err := tx.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'measurements'::regclass`).Scan(&relkind); err != nil {
		return "", fmt.Errorf("inspect measurements: %w", err)
	}
	if relkind != "p" {
		// Created earlier in another mode; converting would mean rewriting data.
		log.Warn("measurements exists and is not partitioned; leaving it as is", "schema_mode", SchemaPartman)
		return "", nil
	}

	partmanSchema := ""
	if !disablePartman {
		s, err := setupPartman(ctx, tx, parent)
		if err != nil {
			log.Warn("pg_partman unavailable, falling back to a default partition", "error", err.Error())
		} else {
			partmanSchema = s
		}
	}
	if partmanSchema == "" {
		hasDefault, err := hasDefaultPartition(ctx, tx)
		if err != nil {
			return "", err
		}
		if !hasDefault {
			if err := execAll(ctx, tx, `CREATE TABLE IF NOT EXISTS measurements_default PARTITION OF measurements DEFAULT`); err != nil {
				return "", err
			}
		}
	}

	if ok, err := extensionAvailable(ctx, tx, "pg_stat_statements"); err == nil && ok {
		if err := bestEffort(ctx, tx, func(sp pgx.Tx) error {
			return execAll(ctx, sp, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
		}); err != nil {
			log.Warn("could not create pg_stat_statements", "error", err.Error())
		}
	}
	return partmanSchema, nil
}

func hasDefaultPartition(ctx context.Context, tx pgx.Tx) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'measurements'::regclass
			  AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT')`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("inspect partitions: %w", err)
	}
	return ok, nil
}

// setupPartman installs pg_partman if possible and registers measurements with
// daily partitions. It returns the extension's schema, or an error meaning "not usable".
func setupPartman(ctx context.Context, tx pgx.Tx, parent string) (string, error) {
	ok, err := extensionAvailable(ctx, tx, "pg_partman")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("extension pg_partman is not installed on the server")
	}
	var schema, version string
	err = bestEffort(ctx, tx, func(sp pgx.Tx) error {
		if err := execAll(ctx, sp,
			`CREATE SCHEMA IF NOT EXISTS partman`,
			`CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman`,
		); err != nil {
			return err
		}
		// The extension may already live in another schema; use wherever it is.
		return sp.QueryRow(ctx, `
			SELECT n.nspname, e.extversion FROM pg_extension e
			JOIN pg_namespace n ON n.oid = e.extnamespace
			WHERE e.extname = 'pg_partman'`).Scan(&schema, &version)
	})
	if err != nil {
		return "", err
	}
	qs := pgx.Identifier{schema}.Sanitize()

	var registered bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+qs+`.part_config WHERE parent_table = $1)`, parent).Scan(&registered); err != nil {
		return "", fmt.Errorf("read part_config: %w", err)
	}
	if registered {
		return schema, nil
	}
	hasDefault, err := hasDefaultPartition(ctx, tx)
	if err != nil {
		return "", err
	}
	err = bestEffort(ctx, tx, func(sp pgx.Tx) error {
		var q string
		var args []any
		if strings.HasPrefix(version, "4.") {
			// pg_partman 4 (e.g. Debian/PostgreSQL <= 15) requires p_type and
			// always creates its own default partition.
			if hasDefault {
				return errors.New("pg_partman 4 cannot adopt an existing default partition")
			}
			q = `SELECT ` + qs + `.create_parent(p_parent_table := $1, p_control := 'time', p_type := 'native', p_interval := '1 day')`
			args = []any{parent}
		} else {
			// pg_partman 5 signature (Amazon RDS); keep a default partition created by an earlier fallback.
			q = `SELECT ` + qs + `.create_parent(p_parent_table := $1, p_control := 'time', p_interval := '1 day', p_default_table := $2)`
			args = []any{parent, !hasDefault}
		}
		_, err := sp.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("pg_partman %s create_parent: %w", version, err)
	}
	return schema, nil
}

func bootstrapTimescale(ctx context.Context, tx pgx.Tx, log *slog.Logger) error {
	if err := execAll(ctx, tx,
		`CREATE EXTENSION IF NOT EXISTS timescaledb`,
		`CREATE TABLE IF NOT EXISTS measurements `+createTableCols,
	); err != nil {
		return fmt.Errorf("timescaledb mode: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT create_hypertable('measurements', 'time', if_not_exists => TRUE)`); err != nil {
		return fmt.Errorf("create_hypertable: %w", err)
	}
	if err := execAll(ctx, tx,
		`CREATE INDEX IF NOT EXISTS measurements_series_time_idx ON measurements (series, time DESC)`,
	); err != nil {
		return err
	}
	// Compression is not in every TimescaleDB build (e.g. Apache-only), so it is optional.
	err := bestEffort(ctx, tx, func(sp pgx.Tx) error {
		var enabled bool
		if err := sp.QueryRow(ctx, `
			SELECT coalesce(bool_or(compression_enabled), false)
			FROM timescaledb_information.hypertables
			WHERE hypertable_name = 'measurements' AND hypertable_schema = current_schema()`).Scan(&enabled); err != nil {
			return err
		}
		if !enabled {
			if err := execAll(ctx, sp, `ALTER TABLE measurements SET (timescaledb.compress, timescaledb.compress_segmentby = 'series', timescaledb.compress_orderby = 'time DESC')`); err != nil {
				return err
			}
		}
		_, err := sp.Exec(ctx, `SELECT add_compression_policy('measurements', INTERVAL '7 days', if_not_exists => TRUE)`)
		return err
	})
	if err != nil {
		log.Warn("timescaledb compression policy not set", "error", err.Error())
	}
	return nil
}

// RunPartmanMaintenance keeps pg_partman creating future partitions; Amazon RDS
// has no pg_partman background worker, so the app calls it periodically.
// pg_partman takes its own advisory lock, so concurrent tasks are safe.
func RunPartmanMaintenance(ctx context.Context, pool *pgxpool.Pool, res BootstrapResult, every time.Duration, log *slog.Logger) {
	if res.PartmanSchema == "" {
		return
	}
	q := `SELECT ` + pgx.Identifier{res.PartmanSchema}.Sanitize() + `.run_maintenance(p_parent_table := $1)`
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			if _, err := pool.Exec(mctx, q, res.ParentTable); err != nil && ctx.Err() == nil {
				log.Warn("pg_partman maintenance failed", "error", err.Error())
			} else if err == nil {
				log.Info("pg_partman maintenance done", "parent_table", res.ParentTable)
			}
			cancel()
		}
	}
}
