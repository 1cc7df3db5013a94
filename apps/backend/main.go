// Command backend is the sample time-series API served under /api behind CloudFront and an ALB.
//
//	/app               serve the API as the application role (no DDL)
//	/app -migrate      deploy-time task: roles, extensions, schema; then exit
//	/app -healthcheck  container health check (GET /api/health on loopback)
//
// The server writes nothing to the filesystem (logs go to stdout, the TLS CA
// is held in memory), so it runs with a read-only root filesystem.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// ECS sends SIGTERM and kills after stopTimeout (30 s by default); drain well before that.
	shutdownTimeout     = 20 * time.Second
	maintenanceInterval = time.Hour
	// schemaRetry is how often the server looks again for the schema -migrate creates.
	schemaRetry = 15 * time.Second
	// migrateTimeout bounds the whole -migrate task.
	migrateTimeout = 10 * time.Minute

	// The data pool: ReadSlots of its connections may serve reads at once, the
	// rest stay free for writes. The deep health check has its own connection.
	dataPoolConns = 10
	// statementTimeout bounds every query of the API on the server side, so an
	// expensive read ends even if the client goes away.
	statementTimeout = 5 * time.Second
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/api/health and exit 0 if healthy (for container health checks without curl)")
	migrate := flag.Bool("migrate", false, "create or update the database roles and schema with the master credentials, then exit (deploy-time task)")
	flag.Parse()

	if *healthcheck {
		os.Exit(runHealthcheck(os.Getenv("PORT")))
	}

	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	run := serve
	if *migrate {
		run = runMigrate
	}
	if err := run(log); err != nil {
		log.Error("exiting", "error", err.Error())
		os.Exit(1)
	}
}

func runHealthcheck(port string) int {
	if port == "" {
		port = "8080"
	}
	if _, err := strconv.Atoi(port); err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: invalid PORT %q\n", port)
		return 1
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/api/health")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}

func runMigrate(log *slog.Logger) error {
	cfg, err := LoadConfig(os.Getenv, ModeMigrate)
	if err != nil {
		return err
	}
	log = log.With("env", cfg.Env, "mode", "migrate")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	log.Info("migrating", "database", cfg.DBName, "host", cfg.DBHost, "sslmode", cfg.DBSSLMode, "ca", cfg.DBRootCASource, "schema_mode", cfg.SchemaMode)
	return Migrate(ctx, cfg, log)
}

func serve(log *slog.Logger) error {
	cfg, err := LoadConfig(os.Getenv, ModeServe)
	if err != nil {
		return err
	}
	log = log.With("env", cfg.Env)
	if cfg.APIKey == "" {
		log.Warn("API_KEY is not set; POST /api/series and GET /api/health/deep will be rejected")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	if cfg.DBIAMAuth {
		tokens, err := newIAMTokens(ctx, cfg)
		if err != nil {
			return err
		}
		cfg.beforeConnect = tokens.beforeConnect
	}
	pool, err := newPool(ctx, cfg, dataPoolConns, "tsa-backend")
	if err != nil {
		return err
	}
	defer pool.Close()
	healthPool, err := newPool(ctx, cfg, 1, "tsa-backend-health")
	if err != nil {
		return err
	}
	defer healthPool.Close()

	var ready atomic.Bool
	limits := DefaultLimits
	limits.MaxFuture, limits.Retention, limits.ProxyHops = cfg.WriteMaxFuture, cfg.Retention, cfg.ProxyHops
	api := &API{Env: cfg.Env, APIKey: cfg.APIKey, APIKeyPrevious: cfg.APIKeyPrevious,
		Store: NewPGStore(pool, healthPool, ready.Load), Log: log, Limits: limits}
	srv := &http.Server{
		Addr:              ":" + strconv.Itoa(cfg.Port),
		Handler:           api.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second, // above the ALB's 60 s idle timeout, so the ALB closes first
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	// Listen before the database is reachable so the shallow health check
	// passes while the schema is looked for.
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", srv.Addr, "db_user", cfg.DBUser, "db_iam_auth", cfg.DBIAMAuth, "sslmode", cfg.DBSSLMode, "ca", cfg.DBRootCASource)

	go func() {
		if !waitForSchema(ctx, pool, log) {
			return
		}
		ready.Store(true)
		log.Info("schema ready", "schema", appSchema)
		RunMaintenance(ctx, pool, maintenanceInterval, log)
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutdown signal received, draining")
	case err := <-serveErr:
		runErr = fmt.Errorf("server: %w", err)
	}
	stop()

	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("graceful shutdown incomplete", "error", err.Error())
	}
	log.Info("stopped")
	return runErr
}

// waitForSchema looks for the schema until it is there: the server never
// creates it. Data endpoints answer 503 and the deep health check fails
// meanwhile, and every attempt logs what to do.
func waitForSchema(ctx context.Context, pool sqlExec, log *slog.Logger) bool {
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := checkSchema(cctx, pool)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		log.Error("database schema not usable; run /app -migrate (the deploy-time task) with the master credentials", "schema", appSchema, "error", err.Error())
		select {
		case <-ctx.Done():
			return false
		case <-time.After(schemaRetry):
		}
	}
}
