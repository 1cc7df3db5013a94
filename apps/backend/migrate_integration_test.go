package main

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrateSetup returns a -migrate configuration for a fresh database on the
// test server (its superuser plays the master, as the RDS master would) with
// role names of its own; the roles are dropped after the database.
func migrateSetup(t *testing.T) (Config, *pgxpool.Pool) {
	t.Helper()
	url := os.Getenv(testDBEnv)
	if url == "" {
		t.Skipf("skipping integration test: set %s or run scripts/integration-test.sh", testDBEnv)
	}
	admin, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000)
	cfg := Config{
		Env: "it", DBHost: admin.Host, DBPort: int(admin.Port), DBUser: admin.User, DBPassword: admin.Password,
		DBSSLMode: "disable", SchemaMode: SchemaPartman, Retention: testRetention, WriteMaxFuture: 5 * time.Minute,
		MigratorUser: "tsa_it_mig_" + suffix, MigratorPassword: "migrator-pw-" + suffix,
		AppUser: "tsa_it_app_" + suffix, AppPassword: "app-password-" + suffix,
	}
	// Registered before the database exists, so it runs after the database is dropped.
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for _, r := range []string{cfg.AppUser, cfg.MigratorUser} {
			if _, err := c.Exec(context.Background(), `DROP ROLE IF EXISTS `+pgx.Identifier{r}.Sanitize()); err != nil {
				t.Logf("drop role %s: %v", r, err)
			}
		}
	})
	pool, name := freshDatabase(t)
	cfg.DBName = name
	return cfg, pool
}

func asApp(cfg Config) Config {
	cfg.DBUser, cfg.DBPassword = cfg.AppUser, cfg.AppPassword
	return cfg
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// Issue #12, 1: -migrate creates the two roles and the schema owned by the
// migrator; the application role can write, read and run maintenance through
// the definer function, and nothing else.
func TestIntegrationMigrateRoleSplit(t *testing.T) {
	cfg, master := migrateSetup(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ { // idempotent: the second run changes nothing and succeeds
		if err := Migrate(ctx, cfg, testLogger(t)); err != nil {
			t.Fatalf("Migrate run %d: %v", i+1, err)
		}
	}

	// One connection: a maintenance pass must leave it usable for the next query.
	app, err := newPool(ctx, asApp(cfg), 1, "it-app")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := checkSchema(ctx, app); err != nil {
		t.Fatalf("the application role cannot use the schema: %v", err)
	}
	h := realAPI(t, NewPGStore(app, nil, nil))
	now := time.Now().UTC()
	if code, body := postPoints(t, h, "cpu", pt(now.Add(-time.Minute), "1"), pt(now.Add(-2*time.Minute), "3")); code != 201 {
		t.Fatalf("write as the application role: %d %s", code, body)
	}
	if _, err := runMaintenance(ctx, app); err != nil {
		t.Fatalf("maintenance through maintain_partitions(): %v", err)
	}
	if code, body := postPoints(t, h, "cpu", pt(now.Add(-time.Minute), "5")); code != 201 {
		t.Fatalf("write after maintenance on the same connection: %d %s", code, body)
	}
	if code, b, body := readBuckets(t, h, "cpu", now.Add(-time.Hour), now, "1h"); code != 200 || len(b) != 1 || b[0].Count != 2 || b[0].Max != 5 {
		t.Fatalf("read as the application role: %d %s", code, body)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/health/deep", nil)
	req.Header.Set("X-Api-Key", "s3cret-key")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("deep health as the application role: %d %s", rec.Code, rec.Body.String())
	}

	var partmanSchema string
	_ = master.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`).Scan(&partmanSchema)

	// No DDL, no TRUNCATE/DELETE, no pg_partman, no temp tables, no roles.
	denied := []string{
		`CREATE TABLE tsa.evil (i int)`,
		`CREATE TABLE public.evil (i int)`,
		`CREATE TEMP TABLE evil (i int)`,
		`CREATE SCHEMA evil`,
		`CREATE INDEX ON tsa.measurements (value)`,
		`CREATE FUNCTION tsa.evil() RETURNS int LANGUAGE sql AS 'SELECT 1'`,
		`CREATE VIEW tsa.evil AS SELECT 1`,
		`ALTER TABLE tsa.measurements ADD COLUMN evil int`,
		`ALTER TABLE tsa.measurements OWNER TO ` + cfg.AppUser,
		`DROP TABLE tsa.measurements`,
		`DROP FUNCTION tsa.maintain_partitions()`,
		`TRUNCATE tsa.measurements`,
		`DELETE FROM tsa.measurements`,
		`CREATE ROLE evil`,
		`CREATE DATABASE evil`,
		`ALTER ROLE ` + cfg.AppUser + ` CREATEDB`,
	}
	if partmanSchema != "" {
		denied = append(denied,
			`SELECT `+partmanSchema+`.run_maintenance('tsa.measurements')`,
			`UPDATE `+partmanSchema+`.part_config SET retention = NULL`)
	}
	for _, stmt := range denied {
		_, err := app.Exec(ctx, stmt)
		if code := sqlState(err); code != "42501" {
			t.Errorf("the application role ran %q: error %v (SQLSTATE %q), want insufficient_privilege 42501", stmt, err, code)
		}
	}

	// Role attributes, ownership and the definer function, seen by the master.
	for _, r := range []string{cfg.MigratorUser, cfg.AppUser} {
		var super, createdb, createrole, repl, bypass, login bool
		if err := master.QueryRow(ctx, `SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1`, r).
			Scan(&super, &createdb, &createrole, &repl, &bypass, &login); err != nil {
			t.Fatal(err)
		}
		if super || createdb || createrole || repl || bypass || !login {
			t.Errorf("role %s: super=%v createdb=%v createrole=%v replication=%v bypassrls=%v login=%v", r, super, createdb, createrole, repl, bypass, login)
		}
	}
	var notOwned []string
	rows, err := master.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'tsa' AND pg_get_userbyid(c.relowner) <> $1
		UNION ALL SELECT 'schema tsa' FROM pg_namespace WHERE nspname = 'tsa' AND pg_get_userbyid(nspowner) <> $1
		UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE n.nspname = 'tsa' AND pg_get_userbyid(p.proowner) <> $1`, cfg.MigratorUser)
	if err != nil {
		t.Fatal(err)
	}
	if notOwned, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || len(notOwned) > 0 {
		t.Errorf("objects in tsa not owned by the migrator: %v %v", notOwned, err)
	}
	var definer, publicExec, appExec bool
	var config []string
	if err := master.QueryRow(ctx, `
		SELECT p.prosecdef, coalesce(p.proconfig, '{}'),
		       has_function_privilege('public', p.oid, 'EXECUTE'), has_function_privilege($1, p.oid, 'EXECUTE')
		FROM pg_proc p WHERE p.oid = 'tsa.maintain_partitions()'::regprocedure`, cfg.AppUser).Scan(&definer, &config, &publicExec, &appExec); err != nil {
		t.Fatal(err)
	}
	if !definer || strings.Join(config, ",") != "search_path=pg_catalog, pg_temp" || publicExec || !appExec {
		t.Errorf("maintain_partitions: security definer=%v config=%v public may execute=%v app may execute=%v", definer, config, publicExec, appExec)
	}

	// Partitions that maintenance creates later belong to the migrator and are
	// usable by the application role (default privileges).
	if partmanSchema == "" {
		t.Skip("pg_partman is not installed on the test server; partition grants not checked")
	}
	newest := func() string {
		var name string
		if err := master.QueryRow(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'tsa.measurements'::regclass ORDER BY c.relname DESC LIMIT 1`).Scan(&name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	before := newest()
	if _, err := master.Exec(ctx, `UPDATE `+partmanSchema+`.part_config SET premake = 7 WHERE parent_table = 'tsa.measurements'`); err != nil {
		t.Fatal(err)
	}
	if _, err := runMaintenance(ctx, app); err != nil {
		t.Fatalf("maintenance as the application role: %v", err)
	}
	after := newest()
	var owner string
	var usable bool
	if err := master.QueryRow(ctx, `SELECT pg_get_userbyid(relowner), has_table_privilege($2, oid, 'SELECT, INSERT, UPDATE') FROM pg_class WHERE oid = ('tsa.' || $1)::regclass`,
		after, cfg.AppUser).Scan(&owner, &usable); err != nil {
		t.Fatal(err)
	}
	if after == before || owner != cfg.MigratorUser || !usable {
		t.Errorf("partition created by maintenance: %s (before %s), owner %s, usable by the application role %v", after, before, owner, usable)
	}
}

// passwordsChecked tells whether the server refuses a wrong password (a
// TSA_TEST_DATABASE_URL server with trust authentication does not).
func passwordsChecked(t *testing.T, cfg Config) bool {
	bad := cfg
	bad.DBPassword = "definitely-not-the-password"
	c, err := cfg.connect(context.Background(), bad.DBUser, bad.DBPassword, "probe")
	if err == nil {
		c.Close(context.Background())
		return false
	}
	return true
}

// Issue #12, 1: re-running -migrate with new secrets rotates both passwords;
// the old ones stop working.
func TestIntegrationMigrateRotatesPasswords(t *testing.T) {
	cfg, _ := migrateSetup(t)
	ctx := context.Background()
	if err := Migrate(ctx, cfg, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	canConnect := func(user, password string) error {
		c, err := cfg.connect(ctx, user, password, "it-rotation")
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	if err := canConnect(cfg.AppUser, cfg.AppPassword); err != nil {
		t.Fatalf("application role with its password: %v", err)
	}
	rotated := cfg
	rotated.AppPassword = cfg.AppPassword + "-rotated"
	rotated.MigratorPassword = cfg.MigratorPassword + "-rotated"
	if err := Migrate(ctx, rotated, testLogger(t)); err != nil { // connects as the migrator with its new password
		t.Fatalf("Migrate with rotated secrets: %v", err)
	}
	if err := canConnect(cfg.AppUser, rotated.AppPassword); err != nil {
		t.Fatalf("application role with the new password: %v", err)
	}
	if err := canConnect(cfg.MigratorUser, rotated.MigratorPassword); err != nil {
		t.Fatalf("migrator with the new password: %v", err)
	}
	if !passwordsChecked(t, cfg) {
		t.Skip("the test server does not check passwords (trust authentication); cannot show that the old ones fail")
	}
	for _, old := range []struct{ user, pw string }{{cfg.AppUser, cfg.AppPassword}, {cfg.MigratorUser, cfg.MigratorPassword}} {
		if err := canConnect(old.user, old.pw); sqlState(err) != "28P01" {
			t.Errorf("%s with the old password: %v, want invalid_password 28P01", old.user, err)
		}
	}
}

// The server never creates the schema: without -migrate it says so in the
// log and in the deep check, and data endpoints answer 503.
func TestIntegrationServerWithoutSchema(t *testing.T) {
	pool := freshDB(t)
	ctx := context.Background()
	var logged strings.Builder
	log := slogTo(&logged)
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if waitForSchema(cctx, pool, log) {
		t.Fatal("waitForSchema found a schema in an empty database")
	}
	if !strings.Contains(logged.String(), "run /app -migrate") {
		t.Errorf("log does not say to run -migrate: %s", logged.String())
	}
	api := &API{Env: "it", APIKey: "k", Store: NewPGStore(pool, nil, func() bool { return false }), Log: log}
	h := api.Handler()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/health/deep", nil)
	req.Header.Set("X-Api-Key", "k")
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "run /app -migrate") {
		t.Errorf("deep health without schema: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/series?name=cpu", nil))
	if rec.Code != 503 {
		t.Errorf("read without schema: %d", rec.Code)
	}
	var created bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'measurements')`).Scan(&created); err != nil || created {
		t.Errorf("the server created measurements (%v)", err)
	}
}

// Issue #12: the migrator's password is stored nowhere. Without
// MIGRATOR_PASSWORD each run sets one of its own, valid for the run, and
// removes it at the end; concurrent runs queue and each uses its own.
func TestIntegrationMigrateWithoutStoredMigratorPassword(t *testing.T) {
	cfg, master := migrateSetup(t)
	cfg.MigratorPassword = ""
	ctx := context.Background()
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- Migrate(ctx, cfg, testLogger(t)) }()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent run without a stored migrator password: %v", err)
		}
	}
	if err := Migrate(ctx, cfg, testLogger(t)); err != nil {
		t.Fatalf("a later run: %v", err)
	}
	var noPassword bool
	var until *time.Time
	if err := master.QueryRow(ctx, `SELECT rolpassword IS NULL, rolvaliduntil FROM pg_authid WHERE rolname = $1`, cfg.MigratorUser).Scan(&noPassword, &until); err != nil {
		t.Skipf("pg_authid is not readable by the test role: %v", err)
	}
	if !noPassword {
		t.Error("the migrator keeps a password after the run")
	}
	if until == nil || until.After(time.Now().Add(migrateTimeout+6*time.Minute)) {
		t.Errorf("the run password's expiry %v is not bounded by the run", until)
	}
	// The application role still works: the schema is there and usable.
	app, err := newPool(ctx, asApp(cfg), 1, "it-app")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if err := checkSchema(ctx, app); err != nil {
		t.Fatalf("schema after runs with run passwords: %v", err)
	}
}

// Issue #12, IAM database authentication on RDS: with APP_IAM_AUTH the
// application role gets rds_iam and no password; switching back revokes it.
// The test server plays RDS with a role named rds_iam.
func TestIntegrationMigrateIAMApplicationRole(t *testing.T) {
	cfg, master := migrateSetup(t)
	ctx := context.Background()
	iamCfg := cfg
	iamCfg.AppIAMAuth, iamCfg.AppPassword = true, ""

	var exists bool
	if err := master.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')`).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		if err := Migrate(ctx, iamCfg, testLogger(t)); err == nil || !strings.Contains(err.Error(), "needs Amazon RDS") {
			t.Errorf("APP_IAM_AUTH without rds_iam: %v", err)
		}
		if _, err := master.Exec(ctx, `CREATE ROLE rds_iam NOLOGIN`); err != nil {
			t.Skipf("cannot create rds_iam on the test server: %v", err)
		}
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), os.Getenv(testDBEnv))
			if err == nil {
				defer c.Close(context.Background())
				_, _ = c.Exec(context.Background(), `DROP ROLE IF EXISTS rds_iam`)
			}
		})
	}
	state := func() (member, noPassword bool) {
		t.Helper()
		if err := master.QueryRow(ctx, `SELECT pg_has_role($1, 'rds_iam', 'MEMBER'), rolpassword IS NULL FROM pg_authid WHERE rolname = $1`, cfg.AppUser).Scan(&member, &noPassword); err != nil {
			t.Fatal(err)
		}
		return member, noPassword
	}
	if err := Migrate(ctx, iamCfg, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if member, noPassword := state(); !member || !noPassword {
		t.Errorf("IAM application role: member of rds_iam %v, no password %v", member, noPassword)
	}
	if err := Migrate(ctx, cfg, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if member, noPassword := state(); member || noPassword {
		t.Errorf("password application role: member of rds_iam %v, no password %v", member, noPassword)
	}
	c, err := cfg.connect(ctx, cfg.AppUser, cfg.AppPassword, "it-iam")
	if err != nil {
		t.Fatalf("the application role logs in with its password again: %v", err)
	}
	c.Close(ctx)
}
