package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// appSchema holds every object of the app; the migrator owns it and the
// application role has USAGE only.
const appSchema = "tsa"

// connURL is a libpq URL without TLS settings; url.UserPassword escapes
// secrets that contain characters such as '@', '/' or spaces.
func (c Config) connURL(user, password, appName string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(c.DBHost, strconv.Itoa(c.DBPort)),
		Path:     "/" + c.DBName,
		RawQuery: url.Values{"sslmode": {"disable"}, "application_name": {appName}}.Encode(),
	}
	return u.String()
}

// tlsConfig builds the TLS settings for DB_SSLMODE from the CA pool held in
// memory (pgx's sslrootcert would need a file; the root filesystem is
// read-only and DB_SSLROOTCERT_PEM has no file at all). Like libpq:
//   - require: encrypt, verify nothing;
//   - verify-ca: the chain must lead to the CA, any host name;
//   - verify-full: the chain and the host name (DB_HOST) must match.
func (c Config) tlsConfig() *tls.Config {
	switch c.DBSSLMode {
	case "require":
		return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // sslmode=require is unverified by definition
	case "verify-ca":
		roots := c.DBRootCAs
		return &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, //nolint:gosec // the chain is verified below, the host name deliberately not
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 {
					return errors.New("server sent no certificate")
				}
				certs := make([]*x509.Certificate, len(raw))
				for i, b := range raw {
					cert, err := x509.ParseCertificate(b)
					if err != nil {
						return fmt.Errorf("parse server certificate: %w", err)
					}
					certs[i] = cert
				}
				opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
				for _, cert := range certs[1:] {
					opts.Intermediates.AddCert(cert)
				}
				_, err := certs[0].Verify(opts)
				return err
			},
		}
	case "verify-full":
		return &tls.Config{RootCAs: c.DBRootCAs, ServerName: c.DBHost, MinVersion: tls.VersionTLS12}
	}
	return nil // disable
}

// applyConn sets TLS and the connect timeout on every connection of the app.
func (c Config) applyConn(cc *pgx.ConnConfig) {
	cc.TLSConfig = c.tlsConfig()
	cc.Fallbacks = nil // never retry without TLS
	cc.ConnectTimeout = 5 * time.Second
}

// connect opens one connection as user (the -migrate task's connections).
func (c Config) connect(ctx context.Context, user, password, appName string) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(c.connURL(user, password, appName))
	if err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	c.applyConn(cc)
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", user, err)
	}
	return conn, nil
}

// newPool opens a lazily connecting pool as the application role. Every
// connection resolves names in the app schema only and gets the API's
// statement timeout.
func newPool(ctx context.Context, cfg Config, size int32, name string) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.connURL(cfg.DBUser, cfg.DBPassword, name))
	if err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	cfg.applyConn(poolCfg.ConnConfig)
	if cfg.beforeConnect != nil {
		poolCfg.BeforeConnect = cfg.beforeConnect
	}
	poolCfg.MaxConns = size
	poolCfg.MaxConnLifetime = 30 * time.Minute
	poolCfg.MaxConnIdleTime = 5 * time.Minute
	poolCfg.ConnConfig.RuntimeParams["search_path"] = appSchema + ", pg_temp"
	poolCfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.Itoa(int(statementTimeout.Milliseconds()))
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}
