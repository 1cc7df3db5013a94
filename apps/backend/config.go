package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Schema modes selected by SCHEMA_MODE.
const (
	SchemaPartman     = "partman"
	SchemaTimescaleDB = "timescaledb"
	SchemaPlain       = "plain"
)

// Mode is what the binary runs as.
type Mode int

const (
	// ModeServe is the API server: it connects as the application role.
	ModeServe Mode = iota
	// ModeMigrate is the one-off deploy-time task: it connects with the master
	// credentials, manages the roles and applies the schema as the migrator.
	ModeMigrate
)

// Config is read once at start from the environment; nothing else configures the app.
type Config struct {
	Port int
	Env  string

	// DBUser/DBPassword are the application role's credentials when serving
	// and the master credentials for -migrate.
	DBHost     string
	DBPort     int
	DBName     string
	DBUser     string
	DBPassword string
	DBSSLMode  string
	// DBIAMAuth (server only): DBUser logs in with IAM database
	// authentication tokens for AWSRegion (Amazon RDS) instead of DBPassword.
	DBIAMAuth bool
	AWSRegion string
	// beforeConnect, when set, runs before every new connection of the
	// server's pools (the IAM token source sets the password there).
	beforeConnect func(context.Context, *pgx.ConnConfig) error
	// DBRootCAs verifies the server for verify-ca/verify-full; DBRootCASource
	// says where it came from (for logs).
	DBRootCAs      *x509.CertPool
	DBRootCASource string

	// APIKey authorises writes and the deep health check; APIKeyPrevious is
	// accepted too while a rotation rolls out.
	APIKey         string
	APIKeyPrevious string
	SchemaMode     string

	// WriteMaxFuture and Retention bound the accepted write window
	// [now-Retention, now+WriteMaxFuture]; Retention is also how long
	// pg_partman and TimescaleDB keep data.
	WriteMaxFuture time.Duration
	Retention      time.Duration
	// ProxyHops is how many proxies append to X-Forwarded-For in front of the
	// app (CloudFront and the ALB: 2); the client is the entry that many from
	// the right. 0 uses the TCP peer.
	ProxyHops int

	// -migrate only: the roles it creates or updates. An empty
	// MigratorPassword makes -migrate generate one for its own run only
	// (MIGRATOR_PASSWORD unset: nothing stores it). AppIAMAuth: the
	// application role logs in with IAM tokens (rds_iam), AppPassword is empty.
	MigratorUser     string
	MigratorPassword string
	AppUser          string
	AppPassword      string
	AppIAMAuth       bool
}

// Bounds of the write window settings. The future bound stays far below the
// partitions pg_partman keeps pre-made (premake days), so no accepted write can
// land in the default partition while maintenance runs.
const (
	maxWriteMaxFuture = time.Hour
	minRetention      = 2 * 24 * time.Hour
	maxRetention      = 10 * 366 * 24 * time.Hour
	minRolePassword   = 12
)

// SSL modes that never fall back to plaintext; allow/prefer would.
var validSSLModes = map[string]bool{"disable": true, "require": true, "verify-ca": true, "verify-full": true}

// roleName keeps role names to plain lower-case identifiers (they are quoted
// anyway; this avoids surprises with case folding in hand-written SQL).
var roleName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// LoadConfig validates every variable and reports all problems at once, so a
// misconfigured task definition is fixed in one deploy rather than several.
func LoadConfig(getenv func(string) string, mode Mode) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var errs []error

	cfg := Config{
		Env:            get("APP_ENV"),
		DBHost:         get("DB_HOST"),
		DBName:         get("DB_NAME"),
		DBUser:         get("DB_USER"),
		DBPassword:     getenv("DB_PASSWORD"), // not trimmed: generated secrets may contain any character
		DBSSLMode:      strings.ToLower(get("DB_SSLMODE")),
		APIKey:         get("API_KEY"),
		APIKeyPrevious: get("API_KEY_PREVIOUS"),
		SchemaMode:     strings.ToLower(get("SCHEMA_MODE")),
	}

	port := func(name, def string) int {
		v := get(name)
		if v == "" {
			v = def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("%s must be a port number between 1 and 65535, got %q", name, v))
			return 0
		}
		return n
	}
	cfg.Port = port("PORT", "8080")
	cfg.DBPort = port("DB_PORT", "5432")

	if cfg.Env == "" {
		errs = append(errs, errors.New("APP_ENV is required (e.g. dev, staging, prod)"))
	}
	cfg.DBIAMAuth = boolVar(get, "DB_IAM_AUTH", &errs)
	required := []struct{ name, val string }{{"DB_HOST", cfg.DBHost}, {"DB_NAME", cfg.DBName}, {"DB_USER", cfg.DBUser}}
	switch {
	case cfg.DBIAMAuth && mode == ModeMigrate:
		errs = append(errs, errors.New("DB_IAM_AUTH is for the server: -migrate logs in as the master with DB_PASSWORD (APP_IAM_AUTH makes the application role an IAM role)"))
	case cfg.DBIAMAuth:
		// The password is an IAM authentication token built for every new
		// connection; a stored one would be ignored, so refuse it.
		if cfg.DBPassword != "" {
			errs = append(errs, errors.New("DB_PASSWORD must not be set with DB_IAM_AUTH=true: the server logs in with IAM authentication tokens"))
		}
		cfg.AWSRegion = get("AWS_REGION")
		if cfg.AWSRegion == "" {
			cfg.AWSRegion = get("AWS_DEFAULT_REGION")
		}
		if cfg.AWSRegion == "" {
			errs = append(errs, errors.New("DB_IAM_AUTH=true needs AWS_REGION, the database's region (the token is signed for it)"))
		}
	default:
		required = append(required, struct{ name, val string }{"DB_PASSWORD", cfg.DBPassword})
	}
	for _, req := range required {
		if req.val == "" {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}

	if cfg.DBSSLMode == "" {
		cfg.DBSSLMode = "verify-full"
	}
	if !validSSLModes[cfg.DBSSLMode] {
		errs = append(errs, fmt.Errorf("DB_SSLMODE must be one of disable, require, verify-ca, verify-full, got %q", cfg.DBSSLMode))
	} else if err := cfg.loadRootCAs(getenv); err != nil {
		errs = append(errs, err)
	}
	if cfg.DBIAMAuth && cfg.DBSSLMode == "disable" {
		// The token is a credential: never send it in clear text (AWS's
		// examples connect with sslmode=verify-full).
		errs = append(errs, errors.New("DB_IAM_AUTH=true needs TLS: DB_SSLMODE must not be disable"))
	}

	if cfg.APIKeyPrevious != "" && cfg.APIKey == "" {
		errs = append(errs, errors.New("API_KEY_PREVIOUS is set but API_KEY is not: a rotation puts the new key in API_KEY"))
	}

	if cfg.SchemaMode == "" {
		cfg.SchemaMode = SchemaPartman
	}
	switch cfg.SchemaMode {
	case SchemaPartman, SchemaTimescaleDB, SchemaPlain:
	default:
		errs = append(errs, fmt.Errorf("SCHEMA_MODE must be one of partman, timescaledb, plain, got %q", cfg.SchemaMode))
	}

	dur := func(name, def string, lo, hi time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			v = def
		}
		d, err := parseDuration(v)
		if err != nil || d < lo || d > hi {
			errs = append(errs, fmt.Errorf("%s must be a duration between %s and %s (e.g. 5m, 36h, 90d), got %q", name, fmtDuration(lo), fmtDuration(hi), v))
			return 0
		}
		return d
	}
	cfg.WriteMaxFuture = dur("WRITE_MAX_FUTURE", "5m", time.Second, maxWriteMaxFuture)
	cfg.Retention = dur("DATA_RETENTION", "90d", minRetention, maxRetention)

	hops := get("TRUSTED_PROXY_HOPS")
	if hops == "" {
		hops = "2"
	}
	if n, err := strconv.Atoi(hops); err != nil || n < 0 || n > 5 {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXY_HOPS must be a number from 0 to 5, got %q", hops))
	} else {
		cfg.ProxyHops = n
	}

	if mode == ModeMigrate {
		errs = append(errs, cfg.loadRoles(getenv)...)
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// loadRootCAs reads the CA bundle for verify-ca/verify-full: the PEM in
// DB_SSLROOTCERT_PEM wins over the file named by DB_SSLROOTCERT. It is read
// once here and kept in memory; nothing is written to disk.
func (c *Config) loadRootCAs(getenv func(string) string) error {
	pemText := strings.TrimSpace(getenv("DB_SSLROOTCERT_PEM"))
	path := strings.TrimSpace(getenv("DB_SSLROOTCERT"))
	if c.DBSSLMode != "verify-ca" && c.DBSSLMode != "verify-full" {
		return nil
	}
	var data []byte
	switch {
	case pemText != "":
		data, c.DBRootCASource = []byte(pemText), "DB_SSLROOTCERT_PEM"
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("DB_SSLROOTCERT: cannot read the CA bundle: %w", err)
		}
		data, c.DBRootCASource = b, path
	default:
		return fmt.Errorf("DB_SSLMODE=%s needs the CA that signed the server certificate: set DB_SSLROOTCERT (a PEM file, e.g. the RDS bundle the image ships at /etc/ssl/certs/rds-global-bundle.pem) or DB_SSLROOTCERT_PEM (the PEM itself)", c.DBSSLMode)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate", c.DBRootCASource)
	}
	c.DBRootCAs = pool
	return nil
}

func (c *Config) loadRoles(getenv func(string) string) []error {
	var errs []error
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c.MigratorUser = get("MIGRATOR_USER")
	c.MigratorPassword = getenv("MIGRATOR_PASSWORD")
	c.AppUser = get("APP_USER")
	c.AppPassword = getenv("APP_PASSWORD")
	c.AppIAMAuth = boolVar(get, "APP_IAM_AUTH", &errs)
	for _, r := range []struct{ user, userVar, pw, pwVar string }{
		{c.MigratorUser, "MIGRATOR_USER", c.MigratorPassword, "MIGRATOR_PASSWORD"},
		{c.AppUser, "APP_USER", c.AppPassword, "APP_PASSWORD"},
	} {
		if !roleName.MatchString(r.user) {
			errs = append(errs, fmt.Errorf("%s must be a role name of lower-case letters, digits and '_' (at most 63), got %q", r.userVar, r.user))
		}
		switch {
		case r.pwVar == "MIGRATOR_PASSWORD" && r.pw == "":
			// Generated for this run and removed at its end (Migrate).
		case r.pwVar == "APP_PASSWORD" && c.AppIAMAuth:
			if r.pw != "" {
				errs = append(errs, errors.New("APP_PASSWORD must not be set with APP_IAM_AUTH=true: the application role logs in with IAM authentication tokens and gets no password"))
			}
		default:
			if err := checkRolePassword(r.pw); err != nil {
				errs = append(errs, fmt.Errorf("%s %w", r.pwVar, err))
			}
		}
	}
	if c.MigratorUser != "" && c.MigratorUser == c.AppUser {
		errs = append(errs, errors.New("MIGRATOR_USER and APP_USER must be different roles"))
	}
	for _, u := range []string{c.MigratorUser, c.AppUser} {
		if u != "" && u == c.DBUser {
			errs = append(errs, fmt.Errorf("DB_USER (the master) must not be %q, the role -migrate manages", u))
		}
	}
	return errs
}

// boolVar reads an optional true/false variable (default false).
func boolVar(get func(string) string, name string, errs *[]error) bool {
	switch v := strings.ToLower(get(name)); v {
	case "", "false":
		return false
	case "true":
		return true
	default:
		*errs = append(*errs, fmt.Errorf("%s must be true or false, got %q", name, v))
		return false
	}
}

// checkRolePassword accepts printable ASCII only: -migrate sends a SCRAM
// verifier it computes itself, and for printable ASCII PostgreSQL's SASLprep
// normalisation is the identity, so the verifier matches what the server
// would compute. Generated secrets (Secrets Manager) are printable ASCII.
func checkRolePassword(pw string) error {
	if len(pw) < minRolePassword {
		return fmt.Errorf("must be at least %d characters", minRolePassword)
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			return errors.New("must be printable ASCII")
		}
	}
	return nil
}

// parseDuration accepts Go durations ("90m", "36h") and whole days ("90d").
func parseDuration(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100_000 {
			return 0, fmt.Errorf("invalid number of days %q", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// fmtDuration prints whole days as "90d" and anything else as Go does.
func fmtDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
