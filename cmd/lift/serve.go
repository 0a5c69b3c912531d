package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"lift"
	"lift/experiment"
	"lift/httpapi"
	"lift/internal/tick"
	"lift/postgres"
	"lift/trainer"
)

var serveCommand = &command{
	name:    "serve",
	summary: "serve the HTTP JSON API",
	run:     runServe,
}

func runServe(ctx context.Context, m *Main, args []string) error {
	fs := m.newFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--db sqlite:lift.db] [--demo] [--train-every DURATION | --train-at HH:MM] [--api-token-file F] [--bands VIRAL,HIGH,MEDIUM] [--experiment-seed N] [--refresh 5s] [--export PATH] [--request-timeout 30s]")
	addr := fs.String("addr", envOr(m, "LIFT_ADDR", "127.0.0.1:8080"), "listen address (env LIFT_ADDR)")
	dsn := fs.String("db", m.dbFlag(), "database: sqlite:PATH, a file path, postgres://..., postgresql://... or libpq's host=... dbname=... (env LIFT_DB)")
	withDemo := fs.Bool("demo", false, "load demo clips and outcomes if the database has none")
	tokenFile := fs.String("api-token-file", "", "file holding the API bearer token (else env LIFT_API_TOKEN)")
	every := fs.Duration("train-every", 0, "train on this interval, at least 1m, e.g. 24h (the nightly job in-process)")
	at := fs.String("train-at", "", "train daily at HH:MM local time")
	refresh := fs.Duration("refresh", 5*time.Second, "how often to check the registry for a model activated elsewhere (replicas)")
	export := fs.String("export", defaultExport, "where the active model's XGBoost JSON is written, at start and whenever the active model changes (a promotion here, or an activation another replica or command made); missing directories are created (empty: nowhere)")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the server to this file until it stops")
	requestTimeout := fs.Duration("request-timeout", httpapi.DefaultRequestTimeout,
		"longest a request may take before it fails with 503 (a database that stops answering); training on demand has 5m, and the log export is bound only by the write limit (the larger of 5m and this, plus a minute)")
	bandsText := bandsFlag(m, fs)
	// The variable is read after parsing, not made the flag's default, so
	// that --help does not print a secret seed.
	expSeed := seedFlag(fs, "experiment-seed", experimentSeed, "seed of the experiments' draws, each a hash of it, the experiment id and the event id "+
		"(else env LIFT_EXPERIMENT_SEED, the place for a secret one: a command line is visible to other users); keep it secret where clients choose their event ids, or they can predict their variant")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	if !isSet(fs, "experiment-seed") { // the flag wins, even over a bad variable, as with --bands
		s, err := envSeed(m, "LIFT_EXPERIMENT_SEED", experimentSeed)
		if err != nil {
			return err
		}
		*expSeed = s
	}
	bands, err := parseBands(fs, *bandsText)
	if err != nil {
		return err
	}
	if err := checkFlags(
		flagCheck{*refresh >= 100*time.Millisecond, "refresh", *refresh, "at least 100ms"},
		flagCheck{*requestTimeout >= 100*time.Millisecond, "request-timeout", *requestTimeout, "at least 100ms"},
	); err != nil {
		return err
	}
	// Given as 0 it would read as "no schedule": a typo's silent result.
	if isSet(fs, "train-every") && *every == 0 {
		return usagef("--train-every must be at least 1m, got 0s (leave it out for no schedule)")
	}
	sched, err := trainer.ParseSchedule(*every, *at)
	if err != nil {
		return usagef("%v", err)
	}
	token, err := apiToken(m, *tokenFile)
	if err != nil {
		return err
	}
	if _, port, err := net.SplitHostPort(*addr); err != nil {
		return usagef("--addr %q is not a host:port address (e.g. 127.0.0.1:8080): %v", *addr, err)
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		// Before the database is opened (or created): a port that cannot
		// be is the command line's mistake, not the network's.
		return usagef("--addr %q: %q is not a port (0-65535, or a service name)", *addr, port)
	}
	if token == "" && !isLoopback(*addr) {
		return usagef("refusing to listen on %s without an API token: set LIFT_API_TOKEN or --api-token-file, or use a loopback address such as 127.0.0.1:8080", *addr)
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	logger := slog.New(slog.NewTextHandler(m.Stderr, nil))
	// A --db of no known kind is a usage error before anything listens.
	if err := checkDBScheme(*dsn); err != nil {
		return err
	}
	// Listen first: an address in use is found before the database is
	// opened (or created).
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	// Served from here on: while the database opens and migrates (on a
	// large database that takes a while), /healthz answers that the
	// process is up and everything else 503, so that a liveness probe
	// does not kill the server mid-migration (httpapi.Phased).
	phased := &httpapi.Phased{}
	hs := &http.Server{
		Handler:           phased,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// The answer of the longest request (training on demand, or one
		// bounded by --request-timeout) must still go out; it also caps
		// how long the log export streams.
		WriteTimeout: max(httpapi.DefaultTrainTimeout, *requestTimeout) + time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	defer hs.Close() // a start that fails; after Shutdown, a no-op
	// "addr" is the ready server's key (the "listening" line below), which
	// scripts read to find the server.
	logger.Info("starting", "url", "http://"+ln.Addr().String(), "db", redact(*dsn))
	if m.OnStarting != nil {
		m.OnStarting(ln.Addr().String())
	}
	db, err := m.openDB(ctx, *dsn)
	if err != nil {
		return err
	}
	if pg, ok := db.(*postgres.DB); ok {
		pg.SetLogger(logger)
	}
	serving := &trainer.Serving{Bands: bands, Explain: explainTop}
	// No training progress: the server's stderr is its structured log,
	// which says when a run starts and how it ended.
	job := &trainer.Job{Store: db, Serving: serving, ExportPath: *export, Logger: logger}
	if err := job.Refresh(ctx); err != nil {
		logger.Error("the active model does not load; serving the heuristic", "err", err)
	}
	srv := &httpapi.Server{
		Clips:          db,
		Predictions:    db,
		Predictor:      serving,
		Trainer:        job,
		Models:         db,
		Activator:      job,
		Ready:          db.Ping,
		Token:          token,
		LocalNamesOnly: token == "",
		Metrics:        httpapi.NewMetrics(),
		RequestTimeout: *requestTimeout,
		Logger:         logger,
	}
	var experiments *experiment.Service
	if es, ok := db.(lift.ExperimentStore); ok {
		experiments = &experiment.Service{Store: es, Clips: db, Predictor: serving, Logger: logger, Seed: *expSeed}
		if isPostgres(*dsn) {
			// A reward is readable once the replicas' reward statements
			// in flight beside it have finished: read the log every
			// 200 ms, not after every reward (docs/BENCHMARKS-http.md).
			experiments.CatchUpEvery = 200 * time.Millisecond
		}
		srv.Experiments = experiments
	} else {
		logger.Warn("this database has no experiment store; /experiments is disabled")
	}
	if *withDemo {
		n, err := loadDemo(ctx, db, experiments, defaultDemoClips, 1)
		if err != nil {
			return err
		}
		logger.Info("demo data", "clips_loaded", n)
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	defer func() {
		stopBackground()
		background.Wait() // policy snapshots finish before the database closes
	}()
	if experiments != nil {
		background.Add(1)
		go func() {
			defer background.Done()
			experiments.Run(bgCtx)
		}()
	}
	background.Add(1)
	go func() {
		defer background.Done()
		pollRegistry(bgCtx, job, *refresh, logger)
	}()
	if sched.Enabled() {
		background.Add(1)
		go func() {
			defer background.Done()
			runSchedule(bgCtx, sched, job, srv.Metrics, logger)
		}()
	}
	phased.Ready(srv.Handler())
	logger.Info("listening", "addr", "http://"+ln.Addr().String(), "db", redact(*dsn), "serving", serving.String())
	if m.OnListen != nil {
		m.OnListen(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing in-flight requests")
	// In-flight requests finish, on-demand training included (it can run
	// as long as the write timeout); only then does the database close.
	sctx, cancel := context.WithTimeout(context.Background(), hs.WriteTimeout+10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// experimentSeed is the default of --experiment-seed: with it, every
// server's decisions are reproducible from event ids.
const experimentSeed = 0x11f7

// envSeed is the seed in the environment variable key, or def when it is
// unset; a value that is not a seed is a usage error naming the variable
// (not its value, which may be a secret).
func envSeed(m *Main, key string, def uint64) (uint64, error) {
	text := m.Getenv(key)
	if text == "" {
		return def, nil
	}
	var s seedValue
	if err := s.Set(text); err != nil {
		return def, usagef("%s: %v", key, err)
	}
	return uint64(s), nil
}

// explainTop is how many SHAP contributions a prediction carries.
const explainTop = 3

// defaultExport is the seed's model path.
const defaultExport = "models/ctr_predictor.json"

// pollRegistry follows the registry's active version, so a model promoted
// by another replica or by `lift train` is served (and exported) here
// within one period.
func pollRegistry(ctx context.Context, job *trainer.Job, every time.Duration, logger *slog.Logger) {
	tick.Every(ctx, every, func(ctx context.Context) {
		before := job.Serving.Version()
		if err := job.Refresh(ctx); err != nil {
			if ctx.Err() == nil {
				logger.Warn("registry refresh failed", "err", err)
			}
		} else if v := job.Serving.Version(); v != before {
			logger.Info("serving a new model version", "version", v)
		}
	})
}

// runSchedule is the in-process nightly job.
func runSchedule(ctx context.Context, s trainer.Schedule, job *trainer.Job, metrics *httpapi.Metrics, logger *slog.Logger) {
	for {
		next := s.Next(time.Now())
		logger.Info("next scheduled training", "at", next.Format(time.RFC3339))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		start := time.Now()
		sum, err := job.Run(ctx, trainer.DefaultOptions())
		metrics.ObserveTraining(sum, err, time.Since(start))
		switch {
		case lift.KindOf(err) == lift.Conflict:
			logger.Info("scheduled training skipped: another replica is training", "err", err)
		case err != nil:
			logger.Error("scheduled training failed", "err", err)
		default:
			logger.Info("scheduled training", "message", sum.Message, "promoted", sum.Promoted, "reason", sum.Reason)
		}
	}
}

// bandsFlag defines --bands, whose default is LIFT_BANDS, else
// lift.DefaultBands; parseBands reads it once the flags are parsed.
func bandsFlag(m *Main, fs *flag.FlagSet) *string {
	return fs.String("bands", envOr(m, "LIFT_BANDS", lift.DefaultBands.String()),
		"CTR band thresholds VIRAL,HIGH,MEDIUM: the lower bounds of viral, high and medium, strictly decreasing, each in (0,1) "+
			"(env LIFT_BANDS); every replica must use the same")
}

// parseBands reads the value of --bands (or of LIFT_BANDS, when the flag
// is not given) as lift.ParseBands does; a bad value is a usage error
// naming where it came from.
func parseBands(fs *flag.FlagSet, text string) (lift.Bands, error) {
	b, err := lift.ParseBands(text)
	if err != nil {
		from := "LIFT_BANDS"
		if isSet(fs, "bands") {
			from = "--bands"
		}
		return b, usagef("%s: %s", from, lift.Message(err))
	}
	return b, nil
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
