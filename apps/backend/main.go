// Command backend is the sample time-series API served under /api behind CloudFront and an ALB.
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

	"github.com/jackc/pgx/v5/pgxpool"
)

const (
	// ECS sends SIGTERM and kills after stopTimeout (30 s by default); drain well before that.
	shutdownTimeout = 20 * time.Second
	// Give up on an unreachable database so ECS replaces the task and the failure is visible.
	bootstrapDeadline   = 5 * time.Minute
	maintenanceInterval = time.Hour

	// The data pool: ReadSlots of its connections may serve reads at once, the
	// rest stay free for writes. The deep health check has its own connection.
	dataPoolConns = 10
	// statementTimeout bounds every query of the API on the server side, so an
	// expensive read ends even if the client goes away.
	statementTimeout = 5 * time.Second
)

func main() {
	healthcheck := flag.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/api/health and exit 0 if healthy (for container health checks without curl)")
	flag.Parse()

	if *healthcheck {
		os.Exit(runHealthcheck(os.Getenv("PORT")))
	}

	log := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
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

func run(log *slog.Logger) error {
	cfg, err := LoadConfig(os.Getenv)
	if err != nil {
		return err
	}
	log = log.With("env", cfg.Env)
	if cfg.APIKey == "" {
		log.Warn("API_KEY is not set; POST /api/series will be rejected")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

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
	api := &API{Env: cfg.Env, APIKey: cfg.APIKey, Store: NewPGStore(pool, healthPool, ready.Load), Log: log, Limits: limits}
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

	// Listen before the database is ready so the shallow health check passes
	// while the schema bootstrap waits for locks or retries a slow database.
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("listening", "addr", srv.Addr, "schema_mode", cfg.SchemaMode)

	bootErr := make(chan error, 1)
	go func() {
		res, err := bootstrapWithRetry(ctx, pool, BootstrapOptions{Mode: cfg.SchemaMode, Retention: cfg.Retention}, log)
		if err != nil {
			bootErr <- err
			return
		}
		ready.Store(true)
		log.Info("schema ready", "schema_mode", res.Mode, "table", res.ParentTable, "pg_partman", res.PartmanSchema != "")
		RunPartmanMaintenance(ctx, pool, res, maintenanceInterval, log)
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutdown signal received, draining")
	case err := <-serveErr:
		runErr = fmt.Errorf("server: %w", err)
	case err := <-bootErr:
		if ctx.Err() == nil {
			runErr = fmt.Errorf("schema bootstrap: %w", err)
		}
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

// newPool connects lazily; every connection gets the API's statement timeout.
func newPool(ctx context.Context, cfg Config, size int32, name string) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL())
	if err != nil {
		return nil, fmt.Errorf("database config: %w", err)
	}
	poolCfg.MaxConns = size
	poolCfg.MaxConnLifetime = 30 * time.Minute
	poolCfg.MaxConnIdleTime = 5 * time.Minute
	poolCfg.ConnConfig.ConnectTimeout = 5 * time.Second
	poolCfg.ConnConfig.RuntimeParams["application_name"] = name
	poolCfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.Itoa(int(statementTimeout.Milliseconds()))
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	return pool, nil
}

func bootstrapWithRetry(ctx context.Context, pool *pgxpool.Pool, opts BootstrapOptions, log *slog.Logger) (BootstrapResult, error) {
	deadline := time.Now().Add(bootstrapDeadline)
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		res, err := Bootstrap(actx, pool, opts, log)
		cancel()
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if time.Now().Add(backoff).After(deadline) {
			return res, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		log.Warn("schema bootstrap failed, retrying", "attempt", attempt, "retry_in", backoff.String(), "error", err.Error())
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}
