package main

import (
	"crypto/tls"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var (
	configCAOnce sync.Once
	configCA     *testCA
)

// caPEM is a CA certificate for configurations that verify the server.
func caPEM(t *testing.T) string {
	configCAOnce.Do(func() { configCA = newTestCA(t, "config test CA") })
	return configCA.CertPEM
}

func validEnv(t *testing.T) map[string]string {
	return map[string]string{
		"APP_ENV":            "dev",
		"DB_HOST":            "db.internal",
		"DB_NAME":            "tsa",
		"DB_USER":            "app",
		"DB_PASSWORD":        "p@ss/word with:chars?",
		"DB_SSLROOTCERT_PEM": caPEM(t),
	}
}

func migrateEnv(t *testing.T) map[string]string {
	env := validEnv(t)
	env["DB_USER"] = "master"
	env["MIGRATOR_USER"] = "tsa_migrator"
	env["MIGRATOR_PASSWORD"] = "migrator-secret-1"
	env["APP_USER"] = "tsa_app"
	env["APP_PASSWORD"] = "app-secret-12345"
	return env
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv(t)), ModeServe)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Port != 8080 || cfg.DBPort != 5432 || cfg.DBSSLMode != "verify-full" || cfg.SchemaMode != SchemaPartman {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cfg.APIKey != "" || cfg.APIKeyPrevious != "" {
		t.Fatalf("API keys should be optional at start, got %q %q", cfg.APIKey, cfg.APIKeyPrevious)
	}
	if cfg.WriteMaxFuture != 5*time.Minute || cfg.Retention != 90*24*time.Hour || cfg.ProxyHops != 2 {
		t.Fatalf("unexpected write window / proxy defaults: %+v", cfg)
	}
	if cfg.DBRootCAs == nil || cfg.DBRootCASource != "DB_SSLROOTCERT_PEM" {
		t.Fatalf("CA not loaded: %v %q", cfg.DBRootCAs, cfg.DBRootCASource)
	}
}

func TestLoadConfigWriteWindow(t *testing.T) {
	env := validEnv(t)
	env["WRITE_MAX_FUTURE"] = "90s"
	env["DATA_RETENTION"] = "60h"
	env["TRUSTED_PROXY_HOPS"] = "0"
	cfg, err := LoadConfig(envFrom(env), ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WriteMaxFuture != 90*time.Second || cfg.Retention != 60*time.Hour || cfg.ProxyHops != 0 {
		t.Fatalf("got %+v", cfg)
	}
	env["DATA_RETENTION"] = "400d"
	if cfg, err = LoadConfig(envFrom(env), ModeServe); err != nil || cfg.Retention != 400*24*time.Hour {
		t.Fatalf("400d: %v %v", cfg.Retention, err)
	}
}

func TestLoadConfigOverrides(t *testing.T) {
	env := validEnv(t)
	env["PORT"] = "9000"
	env["DB_PORT"] = "6543"
	env["DB_SSLMODE"] = "Require"
	env["SCHEMA_MODE"] = "TimescaleDB"
	env["API_KEY"] = "secret"
	env["API_KEY_PREVIOUS"] = "old-secret"
	cfg, err := LoadConfig(envFrom(env), ModeServe)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Port != 9000 || cfg.DBPort != 6543 || cfg.DBSSLMode != "require" || cfg.SchemaMode != SchemaTimescaleDB ||
		cfg.APIKey != "secret" || cfg.APIKeyPrevious != "old-secret" {
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
		{"bad sslmode", map[string]string{"DB_SSLMODE": "sometimes"}, []string{"DB_SSLMODE must be one of disable, require, verify-ca, verify-full"}},
		{"prefer may fall back to plaintext", map[string]string{"DB_SSLMODE": "prefer"}, []string{"DB_SSLMODE must be one of"}},
		{"verify-full without a CA", map[string]string{"DB_SSLROOTCERT_PEM": ""}, []string{"DB_SSLMODE=verify-full needs the CA", "DB_SSLROOTCERT"}},
		{"verify-ca without a CA", map[string]string{"DB_SSLMODE": "verify-ca", "DB_SSLROOTCERT_PEM": ""}, []string{"DB_SSLMODE=verify-ca needs the CA"}},
		{"CA that is not PEM", map[string]string{"DB_SSLROOTCERT_PEM": "not a certificate"}, []string{"DB_SSLROOTCERT_PEM holds no PEM certificate"}},
		{"CA file missing", map[string]string{"DB_SSLROOTCERT_PEM": "", "DB_SSLROOTCERT": "/nonexistent/ca.pem"}, []string{"DB_SSLROOTCERT: cannot read the CA bundle"}},
		{"previous key without a current one", map[string]string{"API_KEY_PREVIOUS": "old"}, []string{"API_KEY_PREVIOUS is set but API_KEY is not"}},
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
			env := validEnv(t)
			for k, v := range tt.set {
				env[k] = v
			}
			_, err := LoadConfig(envFrom(env), ModeServe)
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

// DB_SSLROOTCERT_PEM (the TimescaleDB tier's own CA) wins over the file the
// image ships; disable and require need no CA.
func TestLoadConfigCASources(t *testing.T) {
	other := newTestCA(t, "other CA")
	file := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(file, []byte(other.CertPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv(t)
	env["DB_SSLROOTCERT"] = file
	cfg, err := LoadConfig(envFrom(env), ModeServe)
	if err != nil || cfg.DBRootCASource != "DB_SSLROOTCERT_PEM" {
		t.Fatalf("PEM must take precedence: %q %v", cfg.DBRootCASource, err)
	}
	env["DB_SSLROOTCERT_PEM"] = ""
	if cfg, err = LoadConfig(envFrom(env), ModeServe); err != nil || cfg.DBRootCASource != file {
		t.Fatalf("file: %q %v", cfg.DBRootCASource, err)
	}
	for _, mode := range []string{"disable", "require"} {
		env := validEnv(t)
		env["DB_SSLROOTCERT_PEM"] = ""
		env["DB_SSLMODE"] = mode
		if _, err := LoadConfig(envFrom(env), ModeServe); err != nil {
			t.Errorf("%s without a CA: %v", mode, err)
		}
	}
}

func TestTLSConfigPerMode(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv(t)), ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	full := cfg.tlsConfig()
	if full.InsecureSkipVerify || full.ServerName != "db.internal" || full.RootCAs != cfg.DBRootCAs || full.MinVersion != tls.VersionTLS12 {
		t.Errorf("verify-full: %+v", full)
	}
	cfg.DBSSLMode = "verify-ca"
	if ca := cfg.tlsConfig(); ca.VerifyPeerCertificate == nil {
		t.Error("verify-ca must verify the chain itself")
	}
	cfg.DBSSLMode = "disable"
	if cfg.tlsConfig() != nil {
		t.Error("disable must not use TLS")
	}
}

func TestLoadConfigMigrate(t *testing.T) {
	cfg, err := LoadConfig(envFrom(migrateEnv(t)), ModeMigrate)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MigratorUser != "tsa_migrator" || cfg.AppUser != "tsa_app" || cfg.MigratorPassword != "migrator-secret-1" || cfg.AppPassword != "app-secret-12345" {
		t.Fatalf("roles: %+v", cfg)
	}
	// The server does not need the role settings.
	if _, err := LoadConfig(envFrom(validEnv(t)), ModeServe); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"MIGRATOR_USER": ""}, "MIGRATOR_USER must be a role name"},
		{map[string]string{"APP_USER": "App"}, "APP_USER must be a role name"},
		{map[string]string{"APP_USER": "x; DROP"}, "APP_USER must be a role name"},
		{map[string]string{"APP_PASSWORD": "short"}, "APP_PASSWORD must be at least 12 characters"},
		{map[string]string{"MIGRATOR_PASSWORD": "pässwörd-longer"}, "MIGRATOR_PASSWORD must be printable ASCII"},
		{map[string]string{"APP_USER": "tsa_migrator"}, "MIGRATOR_USER and APP_USER must be different"},
		{map[string]string{"DB_USER": "tsa_app"}, "DB_USER (the master) must not be"},
	} {
		env := migrateEnv(t)
		for k, v := range c.set {
			env[k] = v
		}
		if _, err := LoadConfig(envFrom(env), ModeMigrate); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.set, err, c.want)
		}
	}
}

func TestConnURLEscapesSecrets(t *testing.T) {
	cfg, err := LoadConfig(envFrom(validEnv(t)), ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(cfg.connURL(cfg.DBUser, cfg.DBPassword, "x"))
	if err != nil {
		t.Fatalf("connURL is not a valid URL: %v", err)
	}
	pw, _ := u.User.Password()
	if pw != "p@ss/word with:chars?" || u.User.Username() != "app" {
		t.Fatalf("credentials did not round-trip: %q %q", u.User.Username(), pw)
	}
	// TLS is configured on the connection (tlsConfig), never through the URL.
	if u.Host != "db.internal:5432" || u.Path != "/tsa" || u.Query().Get("sslmode") != "disable" {
		t.Fatalf("unexpected URL parts: %s", u.Redacted())
	}
}

// Issue #12: the server logs in with IAM tokens on RDS (no stored password),
// and -migrate needs no stored migrator password.
func TestLoadConfigIAMAuth(t *testing.T) {
	env := validEnv(t)
	env["DB_IAM_AUTH"] = "true"
	env["DB_PASSWORD"] = ""
	env["AWS_REGION"] = "eu-west-1"
	cfg, err := LoadConfig(envFrom(env), ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DBIAMAuth || cfg.AWSRegion != "eu-west-1" || cfg.DBPassword != "" {
		t.Fatalf("IAM auth: %+v", cfg)
	}
	env["AWS_REGION"], env["AWS_DEFAULT_REGION"] = "", "us-east-2"
	if cfg, err = LoadConfig(envFrom(env), ModeServe); err != nil || cfg.AWSRegion != "us-east-2" {
		t.Fatalf("AWS_DEFAULT_REGION: %q %v", cfg.AWSRegion, err)
	}
	for _, c := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"DB_PASSWORD": "stored-password"}, "DB_PASSWORD must not be set with DB_IAM_AUTH=true"},
		{map[string]string{"AWS_DEFAULT_REGION": ""}, "DB_IAM_AUTH=true needs AWS_REGION"},
		{map[string]string{"DB_SSLMODE": "disable"}, "DB_IAM_AUTH=true needs TLS"},
		{map[string]string{"DB_IAM_AUTH": "yes"}, "DB_IAM_AUTH must be true or false"},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range c.set {
			e[k] = v
		}
		if _, err := LoadConfig(envFrom(e), ModeServe); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.set, err, c.want)
		}
	}
	// Without IAM auth the password stays required.
	env = validEnv(t)
	env["DB_PASSWORD"] = ""
	if _, err := LoadConfig(envFrom(env), ModeServe); err == nil || !strings.Contains(err.Error(), "DB_PASSWORD is required") {
		t.Errorf("password auth without a password: %v", err)
	}
}

func TestLoadConfigMigrateWithoutStoredPasswords(t *testing.T) {
	env := migrateEnv(t)
	env["MIGRATOR_PASSWORD"] = ""
	env["APP_PASSWORD"] = ""
	env["APP_IAM_AUTH"] = "true"
	cfg, err := LoadConfig(envFrom(env), ModeMigrate)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MigratorPassword != "" || !cfg.AppIAMAuth || cfg.AppPassword != "" {
		t.Fatalf("roles: %+v", cfg)
	}
	for _, c := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"APP_IAM_AUTH": "false"}, "APP_PASSWORD must be at least 12 characters"},
		{map[string]string{"APP_PASSWORD": "app-secret-12345"}, "APP_PASSWORD must not be set with APP_IAM_AUTH=true"},
		{map[string]string{"DB_IAM_AUTH": "true"}, "DB_IAM_AUTH is for the server"},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range c.set {
			e[k] = v
		}
		if _, err := LoadConfig(envFrom(e), ModeMigrate); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.set, err, c.want)
		}
	}
}
