package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
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
}

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
