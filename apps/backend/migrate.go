package main

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
)

// migrateLockKey serialises -migrate runs against the same database.
const migrateLockKey int64 = 0x7473615f6d6967 // "tsa_mig"

// Migrate is the deploy-time task (/app -migrate). Connected with the master
// credentials it creates or updates the two roles (ALTER ROLE ... PASSWORD, so
// re-running it applies a rotated secret; without MIGRATOR_PASSWORD the
// migrator gets a password for this run only; with APP_IAM_AUTH the
// application role gets none and rds_iam), restricts the database to them,
// creates the extensions that need the master, and then applies the schema
// over a second connection as the migrator, so the migrator owns every
// object. The application role gets USAGE on the schema, SELECT, INSERT and
// UPDATE on its tables (now and, through default privileges, on partitions
// created later) and EXECUTE on maintain_partitions(); nothing else. Every
// step is idempotent.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	master, err := cfg.connect(ctx, cfg.DBUser, cfg.DBPassword, "tsa-migrate")
	if err != nil {
		return err
	}
	defer master.Close(context.Background())
	if _, err := master.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("acquire migration lock: %w", err)
	}
	defer master.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrateLockKey) //nolint:errcheck // released with the session anyway

	migrator, app := pgx.Identifier{cfg.MigratorUser}.Sanitize(), pgx.Identifier{cfg.AppUser}.Sanitize()
	migratorPassword, until := cfg.MigratorPassword, "infinity"
	if migratorPassword == "" {
		// No stored migrator credentials: a password for this run only, which
		// expires by itself and is removed when the run ends, so the migrator
		// can log in only while a migration runs. Concurrent runs queue on the
		// lock above, each with its own password.
		if migratorPassword, err = randomPassword(); err != nil {
			return err
		}
		until = time.Now().Add(migrateTimeout + 5*time.Minute).UTC().Format(time.RFC3339)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := master.Exec(ctx, `ALTER ROLE `+migrator+` WITH PASSWORD NULL`); err != nil {
				log.Error("could not remove the migrator's run password; it expires by itself", "valid_until", until, "error", err.Error())
				return
			}
			log.Info("migrator password removed", "migrator", cfg.MigratorUser)
		}()
	}
	if err := ensureRole(ctx, master, cfg.MigratorUser, migratorPassword, until); err != nil {
		return err
	}
	appPassword := cfg.AppPassword
	if cfg.AppIAMAuth {
		appPassword = "" // PASSWORD NULL: IAM tokens only
	}
	if err := ensureRole(ctx, master, cfg.AppUser, appPassword, "infinity"); err != nil {
		return err
	}
	if err := setIAMAuth(ctx, master, cfg.AppUser, cfg.AppIAMAuth); err != nil {
		return err
	}
	log.Info("roles ready", "migrator", cfg.MigratorUser, "migrator_password_valid_until", until, "app", cfg.AppUser, "app_iam_auth", cfg.AppIAMAuth)

	db := pgx.Identifier{cfg.DBName}.Sanitize()
	if err := execAll(ctx, master,
		// Only the two roles (and the owner) may connect; nobody else gets
		// CREATE or TEMPORARY by default.
		`REVOKE ALL ON DATABASE `+db+` FROM PUBLIC`,
		`GRANT CONNECT, CREATE, TEMPORARY ON DATABASE `+db+` TO `+migrator,
		`GRANT CONNECT ON DATABASE `+db+` TO `+app,
		// PostgreSQL 14 and older let everyone create objects in public.
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
	); err != nil {
		return fmt.Errorf("database privileges: %w", err)
	}
	if err := createExtensions(ctx, master, cfg, migrator, log); err != nil {
		return err
	}
	var legacy bool
	if err := master.QueryRow(ctx, `SELECT to_regclass('public.measurements') IS NOT NULL`).Scan(&legacy); err == nil && legacy {
		log.Warn("public.measurements exists from a version before the role split; the API now uses " + appSchema + ".measurements (see apps/README.md to copy the data)")
	}

	mig, err := cfg.connect(ctx, cfg.MigratorUser, migratorPassword, "tsa-migrate")
	if err != nil {
		return err
	}
	defer mig.Close(context.Background())
	schema := pgx.Identifier{appSchema}.Sanitize()
	if err := execAll(ctx, mig, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		return err
	}
	var owner string
	if err := mig.QueryRow(ctx, `SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1`, appSchema).Scan(&owner); err != nil {
		return err
	}
	if owner != cfg.MigratorUser {
		return fmt.Errorf("schema %s belongs to %s, not to the migrator %s; change its owner (ALTER SCHEMA %s OWNER TO %s) and re-run", appSchema, owner, migrator, appSchema, migrator)
	}
	if _, err := mig.Exec(ctx, `SET search_path = `+schema); err != nil {
		return err
	}
	res, err := Bootstrap(ctx, mig, BootstrapOptions{Mode: cfg.SchemaMode, Retention: cfg.Retention}, log)
	if err != nil {
		return err
	}
	log.Info("schema ready", "schema_mode", res.Mode, "table", res.ParentTable, "pg_partman", res.PartmanSchema != "")

	if err := execAll(ctx, mig,
		`GRANT USAGE ON SCHEMA `+schema+` TO `+app,
		`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA `+schema+` TO `+app,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA `+schema+` TO `+app,
		// Partitions pg_partman creates later (as the migrator, through
		// maintain_partitions) get the same grants.
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+schema+` GRANT SELECT, INSERT, UPDATE ON TABLES TO `+app,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+schema+` GRANT USAGE, SELECT ON SEQUENCES TO `+app,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA `+schema+` REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`,
		`GRANT EXECUTE ON FUNCTION `+schema+`.maintain_partitions() TO `+app,
	); err != nil {
		return fmt.Errorf("grant the application role: %w", err)
	}
	log.Info("migration done", "database", cfg.DBName)
	return nil
}

// ensureRole creates the role if missing and sets its password (none when
// password is empty: PASSWORD NULL), its expiry (a timestamp or "infinity")
// and attributes. Only attributes a non-superuser with CREATEROLE (the RDS
// master) may set are named; SUPERUSER, REPLICATION and BYPASSRLS are off for
// a new role and are checked afterwards.
func ensureRole(ctx context.Context, master *pgx.Conn, name, password, validUntil string) error {
	role := pgx.Identifier{name}.Sanitize()
	var exists bool
	if err := master.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := master.Exec(ctx, `CREATE ROLE `+role+` LOGIN`); err != nil {
			return fmt.Errorf("create role %s: %w", name, err)
		}
	}
	pw := "NULL"
	if password != "" {
		verifier, err := scramVerifier(password)
		if err != nil {
			return err
		}
		// The password travels as a SCRAM verifier, never in clear text, so
		// it cannot show up in the server's statement log. Utility statements
		// take no parameters; the verifier is base64 and '$', ':' only.
		pw = `'` + verifier + `'`
	}
	if !validUntilPattern.MatchString(validUntil) {
		return fmt.Errorf("role %s: invalid expiry %q", name, validUntil)
	}
	if _, err := master.Exec(ctx, `ALTER ROLE `+role+` WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD `+pw+` VALID UNTIL '`+validUntil+`'`); err != nil {
		return fmt.Errorf("alter role %s: %w", name, err)
	}
	var super, repl, bypass bool
	if err := master.QueryRow(ctx, `SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1`, name).Scan(&super, &repl, &bypass); err != nil {
		return err
	}
	if super || repl || bypass {
		if _, err := master.Exec(ctx, `ALTER ROLE `+role+` WITH NOSUPERUSER NOREPLICATION NOBYPASSRLS`); err != nil {
			return fmt.Errorf("role %s has SUPERUSER, REPLICATION or BYPASSRLS and the master cannot remove them: %w", name, err)
		}
	}
	return nil
}

// validUntilPattern: "infinity" or an RFC 3339 UTC time (written into SQL).
var validUntilPattern = regexp.MustCompile(`^(infinity|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$`)

// randomPassword is 32 random bytes, base64url: printable ASCII (SCRAM-safe).
func randomPassword() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// setIAMAuth makes the role an IAM database authentication role on Amazon
// RDS (GRANT rds_iam: it then logs in with IAM tokens only), or takes that
// away when the role logs in with a password ("Creating a database account
// using IAM authentication", Amazon RDS User Guide). rds_iam exists only on
// RDS.
func setIAMAuth(ctx context.Context, master *pgx.Conn, name string, iam bool) error {
	var exists, member bool
	if err := master.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'),
		coalesce((SELECT pg_has_role($1, 'rds_iam', 'MEMBER') WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')), false)`, name).Scan(&exists, &member); err != nil {
		return err
	}
	role := pgx.Identifier{name}.Sanitize()
	switch {
	case iam && !exists:
		return fmt.Errorf("APP_IAM_AUTH=true needs Amazon RDS: this server has no rds_iam role")
	case iam && !member:
		if _, err := master.Exec(ctx, `GRANT rds_iam TO `+role); err != nil {
			return fmt.Errorf("grant rds_iam to %s: %w", name, err)
		}
	case !iam && member:
		if _, err := master.Exec(ctx, `REVOKE rds_iam FROM `+role); err != nil {
			return fmt.Errorf("revoke rds_iam from %s: %w", name, err)
		}
	}
	return nil
}

// scramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for a
// password (RFC 5802/7677, PostgreSQL's "SCRAM-SHA-256$<iterations>:<salt>$
// <StoredKey>:<ServerKey>"), as psql's \password does. checkRolePassword
// limits passwords to printable ASCII, for which SASLprep changes nothing.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key"))), nil
}

// createExtensions creates what only the master may create (pg_partman needs
// rds_superuser on RDS; the local test master is a superuser) and lets the
// migrator use pg_partman as a non-superuser: ownership of the partition set
// plus the grants pg_partman's documentation lists.
func createExtensions(ctx context.Context, master *pgx.Conn, cfg Config, migrator string, log *slog.Logger) error {
	if ok, err := extensionAvailable(ctx, master, "pg_stat_statements"); err == nil && ok {
		if _, err := master.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
			log.Warn("could not create pg_stat_statements", "error", err.Error())
		}
	}
	switch cfg.SchemaMode {
	case SchemaTimescaleDB:
		if err := execAll(ctx, master, tsCreateExtension); err != nil {
			return fmt.Errorf("timescaledb mode: %w", err)
		}
	case SchemaPartman:
		ok, err := extensionAvailable(ctx, master, "pg_partman")
		if err != nil {
			return err
		}
		if !ok {
			log.Warn("pg_partman is not installed on the server; measurements gets a default partition only")
			return nil
		}
		if err := execAll(ctx, master,
			`CREATE SCHEMA IF NOT EXISTS partman`,
			`CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA partman`,
		); err != nil {
			return fmt.Errorf("pg_partman: %w", err)
		}
		var schema string
		if err := master.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_partman'`).Scan(&schema); err != nil {
			return err
		}
		ps := pgx.Identifier{schema}.Sanitize()
		if err := execAll(ctx, master,
			`GRANT ALL ON SCHEMA `+ps+` TO `+migrator,
			`GRANT ALL ON ALL TABLES IN SCHEMA `+ps+` TO `+migrator,
			`GRANT ALL ON ALL SEQUENCES IN SCHEMA `+ps+` TO `+migrator,
			`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA `+ps+` TO `+migrator,
			`GRANT EXECUTE ON ALL PROCEDURES IN SCHEMA `+ps+` TO `+migrator,
		); err != nil {
			return fmt.Errorf("pg_partman grants: %w", err)
		}
	}
	return nil
}

// errSchemaMissing: the application role cannot see or use measurements.
var errSchemaMissing = errors.New("table measurements is missing or not granted to this role: run /app -migrate")

// checkSchema tells whether the application role can use the schema -migrate
// creates; the server never creates it.
func checkSchema(ctx context.Context, db sqlExec) error {
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT coalesce(has_table_privilege(t, 'SELECT, INSERT, UPDATE')
		                AND has_function_privilege(f, 'EXECUTE'), false)
		FROM (SELECT to_regclass('measurements') AS t, to_regprocedure('maintain_partitions()') AS f) AS o`).Scan(&ok)
	if err != nil {
		return err
	}
	if !ok {
		return errSchemaMissing
	}
	return nil
}
