package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Schema modes selected by SCHEMA_MODE.
const (
	SchemaPartman     = "partman"
	SchemaTimescaleDB = "timescaledb"
	SchemaPlain       = "plain"
)

// Config is read once at start from the environment; nothing else configures the app.
type Config struct {
	Port       int
	Env        string
	DBHost     string
	DBPort     int
	DBName     string
	DBUser     string
	DBPassword string
	DBSSLMode  string
	APIKey     string
	SchemaMode string

	// WriteMaxFuture and Retention bound the accepted write window
	// [now-Retention, now+WriteMaxFuture]; Retention is also how long
	// pg_partman and TimescaleDB keep data.
	WriteMaxFuture time.Duration
	Retention      time.Duration
	// ProxyHops is how many proxies append to X-Forwarded-For in front of the
	// app (CloudFront and the ALB: 2); the client is the entry that many from
	// the right. 0 uses the TCP peer.
	ProxyHops int
}

// Bounds of the write window settings. The future bound stays far below the
// partitions pg_partman keeps pre-made (premake days), so no accepted write can
// land in the default partition while maintenance runs.
const (
	maxWriteMaxFuture = time.Hour
	minRetention      = 2 * 24 * time.Hour
	maxRetention      = 10 * 366 * 24 * time.Hour
)

var validSSLModes = map[string]bool{
	"disable": true, "allow": true, "prefer": true,
	"require": true, "verify-ca": true, "verify-full": true,
}

// LoadConfig validates every variable and reports all problems at once, so a
// misconfigured task definition is fixed in one deploy rather than several.
func LoadConfig(getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var errs []error

	cfg := Config{
		Env:        get("APP_ENV"),
		DBHost:     get("DB_HOST"),
		DBName:     get("DB_NAME"),
		DBUser:     get("DB_USER"),
		DBPassword: getenv("DB_PASSWORD"), // not trimmed: generated secrets may contain any character
		DBSSLMode:  strings.ToLower(get("DB_SSLMODE")),
		APIKey:     get("API_KEY"),
		SchemaMode: strings.ToLower(get("SCHEMA_MODE")),
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
	for _, req := range []struct{ name, val string }{
		{"DB_HOST", cfg.DBHost}, {"DB_NAME", cfg.DBName}, {"DB_USER", cfg.DBUser}, {"DB_PASSWORD", cfg.DBPassword},
	} {
		if req.val == "" {
			errs = append(errs, fmt.Errorf("%s is required", req.name))
		}
	}

	if cfg.DBSSLMode == "" {
		cfg.DBSSLMode = "require"
	}
	if !validSSLModes[cfg.DBSSLMode] {
		errs = append(errs, fmt.Errorf("DB_SSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full, got %q", cfg.DBSSLMode))
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

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// DatabaseURL builds a libpq URL; url.UserPassword escapes secrets that contain
// characters such as '@', '/' or spaces, which a keyword/value DSN would not.
func (c Config) DatabaseURL() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.DBUser, c.DBPassword),
		Host:     net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:     "/" + c.DBName,
		RawQuery: url.Values{"sslmode": {c.DBSSLMode}, "application_name": {"tsa-backend"}}.Encode(),
	}
	return u.String()
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
