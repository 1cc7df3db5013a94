package main

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func validEnv() map[string]string {
	return map[string]string{
		"APP_ENV":     "dev",
		"DB_HOST":     "db.internal",
		"DB_NAME":     "tsa",
		"DB_USER":     "app",
		"DB_PASSWORD": "p@ss/word with:chars?",
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv()))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Port != 8080 || cfg.DBPort != 5432 || cfg.DBSSLMode != "require" || cfg.SchemaMode != SchemaPartman {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.APIKey != "" {
		t.Fatalf("API_KEY should be optional at start, got %q", cfg.APIKey)
	}
	if cfg.WriteMaxFuture != 5*time.Minute || cfg.Retention != 90*24*time.Hour || cfg.ProxyHops != 2 {
		t.Fatalf("unexpected write window / proxy defaults: %+v", cfg)
	}
}

func TestLoadConfigWriteWindow(t *testing.T) {
	env := validEnv()
	env["WRITE_MAX_FUTURE"] = "90s"
	env["DATA_RETENTION"] = "60h"
	env["TRUSTED_PROXY_HOPS"] = "0"
	cfg, err := LoadConfig(envFrom(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WriteMaxFuture != 90*time.Second || cfg.Retention != 60*time.Hour || cfg.ProxyHops != 0 {
		t.Fatalf("got %+v", cfg)
	}
	env["DATA_RETENTION"] = "400d"
	if cfg, err = LoadConfig(envFrom(env)); err != nil || cfg.Retention != 400*24*time.Hour {
		t.Fatalf("400d: %v %v", cfg.Retention, err)
	}
}

func TestLoadConfigOverrides(t *testing.T) {
	env := validEnv()
	env["PORT"] = "9000"
	env["DB_PORT"] = "6543"
	env["DB_SSLMODE"] = "verify-full"
	env["SCHEMA_MODE"] = "TimescaleDB"
	env["API_KEY"] = "secret"
	cfg, err := LoadConfig(envFrom(env))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Port != 9000 || cfg.DBPort != 6543 || cfg.DBSSLMode != "verify-full" || cfg.SchemaMode != SchemaTimescaleDB || cfg.APIKey != "secret" {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"missing required", map[string]string{"APP_ENV": "", "DB_HOST": "", "DB_NAME": "", "DB_USER": "", "DB_PASSWORD": ""},
			[]string{"APP_ENV is required", "DB_HOST is required", "DB_NAME is required", "DB_USER is required", "DB_PASSWORD is required"}},
		{"bad port", map[string]string{"PORT": "http"}, []string{`PORT must be a port number`}},
		{"port out of range", map[string]string{"DB_PORT": "70000"}, []string{`DB_PORT must be a port number`}},
		{"bad sslmode", map[string]string{"DB_SSLMODE": "sometimes"}, []string{"DB_SSLMODE must be one of"}},
		{"bad schema mode", map[string]string{"SCHEMA_MODE": "mongo"}, []string{"SCHEMA_MODE must be one of"}},
		{"several at once", map[string]string{"PORT": "0", "SCHEMA_MODE": "x"}, []string{"PORT must", "SCHEMA_MODE must"}},
		{"future bound above premade partitions", map[string]string{"WRITE_MAX_FUTURE": "2h"}, []string{"WRITE_MAX_FUTURE must be a duration between 1s and 1h0m0s"}},
		{"future bound not a duration", map[string]string{"WRITE_MAX_FUTURE": "soon"}, []string{"WRITE_MAX_FUTURE must be"}},
		{"retention shorter than two partitions", map[string]string{"DATA_RETENTION": "1d"}, []string{"DATA_RETENTION must be a duration between 2d and 3660d"}},
		{"retention in weeks", map[string]string{"DATA_RETENTION": "2w"}, []string{"DATA_RETENTION must be"}},
		{"negative days", map[string]string{"DATA_RETENTION": "-3d"}, []string{"DATA_RETENTION must be"}},
		{"proxy hops", map[string]string{"TRUSTED_PROXY_HOPS": "many"}, []string{"TRUSTED_PROXY_HOPS must be a number from 0 to 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := LoadConfig(envFrom(env))
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestDatabaseURLEscapesSecrets(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv()))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.DatabaseURL())
	if err != nil {
		t.Fatalf("DatabaseURL is not a valid URL: %v", err)
	}
	pw, _ := u.User.Password()
	if pw != "p@ss/word with:chars?" || u.User.Username() != "app" {
		t.Fatalf("credentials did not round-trip: %q %q", u.User.Username(), pw)
	}
	if u.Host != "db.internal:5432" || u.Path != "/tsa" || u.Query().Get("sslmode") != "require" {
		t.Fatalf("unexpected URL parts: %s", u.Redacted())
	}
}
