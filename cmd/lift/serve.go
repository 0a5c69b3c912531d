package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"lift"
	"lift/httpapi"
)

var serveCommand = &command{
	name:    "serve",
	summary: "serve the HTTP JSON API",
	run:     runServe,
}

func runServe(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--db sqlite:lift.db] [--demo] [--api-token-file F]")
	addr := fs.String("addr", envOr(m, "LIFT_ADDR", "127.0.0.1:8080"), "listen address (env LIFT_ADDR)")
	dsn := fs.String("db", m.dbFlag(), "database: sqlite:PATH or postgres://... (env LIFT_DB)")
	withDemo := fs.Bool("demo", false, "load demo clips and outcomes if the database has none")
	tokenFile := fs.String("api-token-file", "", "file holding the API bearer token (else env LIFT_API_TOKEN)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	token, err := apiToken(m, *tokenFile)
	if err != nil {
		return err
	}
	if token == "" && !isLoopback(*addr) {
		return usagef("refusing to listen on %s without an API token: set LIFT_API_TOKEN or --api-token-file, or use a loopback address such as 127.0.0.1:8080", *addr)
	}
	logger := slog.New(slog.NewTextHandler(m.Stderr, nil))
	db, err := m.openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	if *withDemo {
		n, err := loadDemo(ctx, db, defaultDemoClips, 1)
		if err != nil {
			return err
		}
		logger.Info("demo data", "clips_loaded", n)
	}
	srv := &httpapi.Server{
		Clips:       db,
		Predictions: db,
		Predictor:   lift.Heuristic{Bands: lift.DefaultBands},
		Ready:       db.Ping,
		Token:       token,
		Logger:      logger,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // training on demand can take a while
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "db", redact(*dsn))
	if m.OnListen != nil {
		m.OnListen(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(m *Main, key, def string) string {
	if v := m.Getenv(key); v != "" {
		return v
	}
	return def
}

// apiToken reads the token from the file if given, else LIFT_API_TOKEN.
func apiToken(m *Main, file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(m.Getenv("LIFT_API_TOKEN")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--api-token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("--api-token-file %s is empty", file)
	}
	return t, nil
}

// isLoopback reports whether addr only listens on a loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
