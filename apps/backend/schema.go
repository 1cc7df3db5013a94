package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// schemaLockKey serialises bootstrap across tasks that start at the same time.
const schemaLockKey int64 = 0x7473615f736368 // "tsa_sch"

// partmanPremake is how many daily partitions pg_partman keeps ready ahead of
// today. The accepted future window (WRITE_MAX_FUTURE, at most 1 h) is far
// inside it, so accepted writes never need the default partition.
const partmanPremake = 4

// BootstrapOptions selects how the measurements table is created.
type BootstrapOptions struct {
	Mode string
	// Retention is how long data is kept: pg_partman drops daily partitions and
	// TimescaleDB drops chunks older than this. Required.
	Retention time.Duration
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

// sqlExec is the part of pgx.Tx the bootstrap uses; unit tests record the SQL
// of the TimescaleDB mode through it because no TimescaleDB server is at hand.
type sqlExec interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// beginner is a pool or a single connection.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Bootstrap creates the schema idempotently in one transaction, in the
// current schema of db, owned by the role db is connected as (the migrator,
// when -migrate runs it). Optional features (pg_partman, pg_stat_statements,
// compression) run in savepoints so a missing extension or privilege degrades
// with a warning instead of failing.
func Bootstrap(ctx context.Context, db beginner, opts BootstrapOptions, log *slog.Logger) (BootstrapResult, error) {
	res := BootstrapResult{Mode: opts.Mode}
	if opts.Retention <= 0 {
		return res, errors.New("bootstrap: retention must be positive")
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("begin bootstrap: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit

	// Creating a retention's worth of partitions takes longer than the API's
	// statement timeout; the caller's context still bounds the whole bootstrap.
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return res, fmt.Errorf("bootstrap: %w", err)
	}
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
		res.PartmanSchema, err = bootstrapPartman(ctx, tx, res.ParentTable, opts, log)
	case SchemaTimescaleDB:
		err = bootstrapTimescale(ctx, tx, opts.Retention, log)
	default:
		err = fmt.Errorf("unknown schema mode %q", opts.Mode)
	}
	if err != nil {
		return res, err
	}
	if err := execAll(ctx, tx, maintenanceFunctionSQL(schema, res.ParentTable, res.PartmanSchema),
		`REVOKE ALL ON FUNCTION maintain_partitions() FROM PUBLIC`); err != nil {
		return res, err
	}
	if err := tx.Commit(ctx); err != nil {
		return res, fmt.Errorf("commit bootstrap: %w", err)
	}
	return res, nil
}

// maintenanceFunctionSQL defines maintain_partitions(), how the application
// role keeps partitions without any DDL right of its own: the function runs
// as its owner (the migrator, who owns the partition set), with a fixed
// search_path that holds no schema anyone else can write to (every name in
// it is schema-qualified; pg_partman puts its own schema in front itself), and
// only the application role may execute it (granted by -migrate). It returns
// whether the default partition holds rows. In the modes without pg_partman it
// only answers that question.
func maintenanceFunctionSQL(schema, parent, partmanSchema string) string {
	qs := pgx.Identifier{schema}.Sanitize()
	def := pgx.Identifier{schema, "measurements_default"}.Sanitize()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	run := ""
	if partmanSchema != "" {
		run = "\n  PERFORM " + pgx.Identifier{partmanSchema}.Sanitize() + ".run_maintenance(p_parent_table := " + lit(parent) + ");"
	}
	return `CREATE OR REPLACE FUNCTION ` + qs + `.maintain_partitions() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN` + run + `
  IF to_regclass(` + lit(schema+".measurements_default") + `) IS NULL THEN
    RETURN false;
  END IF;
  RETURN EXISTS (SELECT 1 FROM ` + def + `);
END
$fn$`
}

const createTableCols = `(
	series text NOT NULL,
	time   timestamptz NOT NULL,
	value  double precision NOT NULL
)`

func execAll(ctx context.Context, db sqlExec, stmts ...string) error {
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s); err != nil {
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
func bestEffort(ctx context.Context, db sqlExec, fn func() error) error {
	if _, err := db.Exec(ctx, `SAVEPOINT tsa_best_effort`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rbErr := db.Exec(ctx, `ROLLBACK TO SAVEPOINT tsa_best_effort`); rbErr != nil {
			return errors.Join(err, rbErr)
		}
		_, _ = db.Exec(ctx, `RELEASE SAVEPOINT tsa_best_effort`)
		return err
	}
	_, err := db.Exec(ctx, `RELEASE SAVEPOINT tsa_best_effort`)
	return err
}

func extensionAvailable(ctx context.Context, db sqlExec, name string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)`, name).Scan(&ok)
	return ok, err
}

// pgInterval renders a duration as a PostgreSQL interval literal.
func pgInterval(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
}

// Writes are upserts on (series, time), so one unique index serves both the
// conflict target and every range read. Databases created before writes were
// idempotent hold a non-unique index and possibly duplicate rows (retries); the
// duplicates are removed once, keeping one row per key, before the unique
// index replaces the old one.
const (
	uniqueIndexName = "measurements_series_time_key"
	createUniqueSQL = `CREATE UNIQUE INDEX IF NOT EXISTS ` + uniqueIndexName + ` ON measurements (series, time)`
	dedupeSQL       = `DELETE FROM measurements a USING measurements b
WHERE a.series = b.series AND a.time = b.time AND a.tableoid = b.tableoid AND a.ctid < b.ctid`
	dropOldIndexSQL = `DROP INDEX IF EXISTS measurements_series_time_idx`
)

func ensureUniqueKey(ctx context.Context, db sqlExec, log *slog.Logger) error {
	var exists bool
	if err := db.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, uniqueIndexName).Scan(&exists); err != nil {
		return fmt.Errorf("inspect indexes: %w", err)
	}
	if exists {
		return nil
	}
	tag, err := db.Exec(ctx, dedupeSQL)
	if err != nil {
		return fmt.Errorf("remove duplicate points: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		log.Warn("removed duplicate points before making writes idempotent", "rows", n)
	}
	return execAll(ctx, db, createUniqueSQL, dropOldIndexSQL)
}

func bootstrapPlain(ctx context.Context, db sqlExec) error {
	if err := execAll(ctx, db, `CREATE TABLE IF NOT EXISTS measurements `+createTableCols); err != nil {
		return err
	}
	return ensureUniqueKey(ctx, db, slog.New(slog.DiscardHandler))
}

func bootstrapPartman(ctx context.Context, db sqlExec, parent string, opts BootstrapOptions, log *slog.Logger) (string, error) {
	if err := execAll(ctx, db, `CREATE TABLE IF NOT EXISTS measurements `+createTableCols+` PARTITION BY RANGE (time)`); err != nil {
		return "", err
	}
	var relkind string
	if err := db.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'measurements'::regclass`).Scan(&relkind); err != nil {
		return "", fmt.Errorf("inspect measurements: %w", err)
	}
	if err := ensureUniqueKey(ctx, db, log); err != nil {
		return "", err
	}
	if relkind != "p" {
		// Created earlier in another mode; converting would mean rewriting data.
		log.Warn("measurements exists and is not partitioned; leaving it as is", "schema_mode", SchemaPartman)
		return "", nil
	}

	partmanSchema := ""
	if !opts.DisablePartman {
		s, err := setupPartman(ctx, db, parent, opts.Retention)
		if err != nil {
			log.Warn("pg_partman unavailable, falling back to a default partition", "error", err.Error())
		} else {
			partmanSchema = s
		}
	}
	if partmanSchema == "" {
		hasDefault, err := hasDefaultPartition(ctx, db)
		if err != nil {
			return "", err
		}
		if !hasDefault {
			if err := execAll(ctx, db, `CREATE TABLE IF NOT EXISTS measurements_default PARTITION OF measurements DEFAULT`); err != nil {
				return "", err
			}
		}
	}

	if ok, err := extensionAvailable(ctx, db, "pg_stat_statements"); err == nil && ok {
		if err := bestEffort(ctx, db, func() error {
			return execAll(ctx, db, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
		}); err != nil {
			log.Warn("could not create pg_stat_statements", "error", err.Error())
		}
	}
	return partmanSchema, nil
}

func hasDefaultPartition(ctx context.Context, db sqlExec) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'measurements'::regclass
			  AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT')`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("inspect partitions: %w", err)
	}
	return ok, nil
}

// setupPartman installs pg_partman if possible, registers measurements with
// daily partitions from the retention horizon on, and sets the options that
// keep maintenance independent of the data:
//   - infinite_time_partitions: premake from the clock, not from the newest row,
//     so a quiet week cannot leave today without a partition;
//   - ignore_default_data: rows in the default partition (from before the write
//     window existed) do not steer which partitions maintenance creates;
//   - retention + retention_keep_table=false: old partitions are dropped.
//
// It returns the extension's schema, or an error meaning "not usable".
func setupPartman(ctx context.Context, db sqlExec, parent string, retention time.Duration) (string, error) {
	ok, err := extensionAvailable(ctx, db, "pg_partman")
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("extension pg_partman is not installed on the server")
	}
	var schema, version string
	err = bestEffort(ctx, db, func() error {
		if err := execAll(ctx, db,
			`CREATE SCHEMA IF NOT EXISTS partman`,
			`CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman`,
		); err != nil {
			return err
		}
		// The extension may already live in another schema; use wherever it is.
		return db.QueryRow(ctx, `
			SELECT n.nspname, e.extversion FROM pg_extension e
			JOIN pg_namespace n ON n.oid = e.extnamespace
			WHERE e.extname = 'pg_partman'`).Scan(&schema, &version)
	})
	if err != nil {
		return "", err
	}
	if err := registerPartman(ctx, db, schema, version, parent, retention); err != nil {
		return "", err
	}
	return schema, nil
}

func registerPartman(ctx context.Context, db sqlExec, schema, version, parent string, retention time.Duration) error {
	qs := pgx.Identifier{schema}.Sanitize()
	var registered bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+qs+`.part_config WHERE parent_table = $1)`, parent).Scan(&registered); err != nil {
		return fmt.Errorf("read part_config: %w", err)
	}
	if !registered {
		hasDefault, err := hasDefaultPartition(ctx, db)
		if err != nil {
			return err
		}
		// Partitions from the retention horizon on: every accepted write, however
		// old, has a partition, and the default partition stays empty.
		start := time.Now().UTC().Add(-retention).Truncate(24 * time.Hour).Format("2006-01-02 15:04:05+00")
		err = bestEffort(ctx, db, func() error {
			var q string
			var args []any
			if strings.HasPrefix(version, "4.") {
				// pg_partman 4 (e.g. Debian/PostgreSQL <= 15) requires p_type and
				// always creates its own default partition.
				if hasDefault {
					return errors.New("pg_partman 4 cannot adopt an existing default partition")
				}
				q = `SELECT ` + qs + `.create_parent(p_parent_table := $1, p_control := 'time', p_type := 'native', p_interval := '1 day', p_premake := $2, p_start_partition := $3)`
				args = []any{parent, partmanPremake, start}
			} else {
				// pg_partman 5 signature (Amazon RDS); keep a default partition created by an earlier fallback.
				q = `SELECT ` + qs + `.create_parent(p_parent_table := $1, p_control := 'time', p_interval := '1 day', p_premake := $2, p_start_partition := $3, p_default_table := $4)`
				args = []any{parent, partmanPremake, start, !hasDefault}
			}
			_, err := db.Exec(ctx, q, args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("pg_partman %s create_parent: %w", version, err)
		}
	}
	// Applied on every run, so a changed DATA_RETENTION reaches existing sets.
	if _, err := db.Exec(ctx, `UPDATE `+qs+`.part_config
		SET premake = $2, retention = $3, retention_keep_table = false,
		    infinite_time_partitions = true, ignore_default_data = true
		WHERE parent_table = $1`, parent, partmanPremake, pgInterval(retention)); err != nil {
		return fmt.Errorf("configure pg_partman: %w", err)
	}
	if _, err := db.Exec(ctx, `SELECT `+qs+`.run_maintenance(p_parent_table := $1)`, parent); err != nil {
		return fmt.Errorf("pg_partman run_maintenance: %w", err)
	}
	return nil
}

// TimescaleDB statements, kept as constants so the unit tests can pin them:
// no TimescaleDB server is available to the tests (Debian does not package it).
const (
	tsCreateExtension   = `CREATE EXTENSION IF NOT EXISTS timescaledb`
	tsCreateTable       = `CREATE TABLE IF NOT EXISTS measurements ` + createTableCols
	tsCreateHypertable  = `SELECT create_hypertable('measurements', 'time', if_not_exists => TRUE)`
	tsCompressionStatus = `SELECT coalesce(bool_or(compression_enabled), false)
FROM timescaledb_information.hypertables
WHERE hypertable_name = 'measurements' AND hypertable_schema = current_schema()`
	tsEnableCompression = `ALTER TABLE measurements SET (timescaledb.compress, timescaledb.compress_segmentby = 'series', timescaledb.compress_orderby = 'time DESC')`
	tsCompressionPolicy = `SELECT add_compression_policy('measurements', INTERVAL '7 days', if_not_exists => TRUE)`
	// Removing and re-adding makes a changed DATA_RETENTION take effect.
	tsRemoveRetention = `SELECT remove_retention_policy('measurements', if_exists => TRUE)`
	tsAddRetention    = `SELECT add_retention_policy('measurements', drop_after => $1::interval)`
)

// bootstrapTimescale makes measurements a hypertable with the same unique
// (series, time) key as the other modes, so writes are the same upsert; chunks
// are created on demand for any accepted time (there is no default partition to
// break), and a retention policy drops chunks older than the retention.
func bootstrapTimescale(ctx context.Context, db sqlExec, retention time.Duration, log *slog.Logger) error {
	if err := execAll(ctx, db, tsCreateExtension, tsCreateTable, tsCreateHypertable); err != nil {
		return fmt.Errorf("timescaledb mode: %w", err)
	}
	if err := ensureUniqueKey(ctx, db, log); err != nil {
		return err
	}
	if err := execAll(ctx, db, tsRemoveRetention); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, tsAddRetention, pgInterval(retention)); err != nil {
		return fmt.Errorf("add_retention_policy: %w", err)
	}
	// Compression is not in every TimescaleDB build (e.g. Apache-only), so it is optional.
	err := bestEffort(ctx, db, func() error {
		var enabled bool
		if err := db.QueryRow(ctx, tsCompressionStatus).Scan(&enabled); err != nil {
			return err
		}
		if !enabled {
			if err := execAll(ctx, db, tsEnableCompression); err != nil {
				return err
			}
		}
		return execAll(ctx, db, tsCompressionPolicy)
	})
	if err != nil {
		log.Warn("timescaledb compression policy not set", "error", err.Error())
	}
	return nil
}

// RunMaintenance keeps pg_partman creating future partitions and dropping
// expired ones, at start and then every interval: Amazon RDS has no pg_partman
// background worker. It goes through maintain_partitions(), so the
// application role needs no DDL right; pg_partman takes its own advisory lock,
// so concurrent tasks are safe.
func RunMaintenance(ctx context.Context, pool *pgxpool.Pool, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defaultRows, err := runMaintenance(mctx, pool)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("partition maintenance failed", "error", err.Error())
		case err == nil && defaultRows:
			log.Warn("the default partition holds rows; see apps/README.md (pg_partman partition_data_time)")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runMaintenance runs one maintenance pass and reports whether the default
// partition holds rows, which only writes from before the write window can
// have put there.
func runMaintenance(ctx context.Context, pool *pgxpool.Pool) (defaultRows bool, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	defaultRows, err = maintainOnce(ctx, conn)
	// pg_partman sets search_path for the session (set_config(..., false))
	// and "restores" the value it found, the function's fixed path, which then
	// outlives the call: put the connection's own path back, or drop it.
	if _, rErr := conn.Exec(context.WithoutCancel(ctx), `RESET search_path`); rErr != nil {
		_ = conn.Conn().Close(context.WithoutCancel(ctx))
	}
	return defaultRows, err
}

func maintainOnce(ctx context.Context, conn *pgxpool.Conn) (defaultRows bool, err error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit
	// The API's connections have a short statement_timeout; creating and
	// dropping partitions may take longer. statement_timeout is armed when a
	// statement starts, so it has to be raised before the call, not inside.
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = '5min'`); err != nil {
		return false, err
	}
	if err := tx.QueryRow(ctx, `SELECT maintain_partitions()`).Scan(&defaultRows); err != nil {
		return false, err
	}
	return defaultRows, tx.Commit(ctx)
}
