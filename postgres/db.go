// Package postgres stores Lift's state in PostgreSQL, for several
// `lift serve` replicas sharing one database. It has the same tables,
// behaviour and error kinds as package sqlite, with embedded migrations
// that run at Open.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"lift"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open Lift database on PostgreSQL: a pool of connections that
// several processes may share.
type DB struct {
	// Now is the clock used for timestamps and lease expiry; tests replace
	// it. Replicas compare leases with their own clocks, so their clocks
	// should agree to well within a lease's TTL (NTP does that). By default
	// it reads the time as it is kept (lift.StoredTime: UTC, to the
	// microsecond), so that what a write answers is what a later read
	// gives.
	Now func() time.Time
	// logger, if set, hears of the clip-change listener's troubles.
	logger atomic.Pointer[slog.Logger]

	pool *pgxpool.Pool

	// features caches clips' model inputs; listenClips keeps it true.
	features  *lift.FeatureCache
	readyOnce sync.Once
	stop      context.CancelFunc
	stopped   chan struct{}
	// preds batches RecordPrediction calls into one row each of
	// prediction_batches; predictionSeq names the sequence of their ids
	// (the predictions table's).
	preds         chan *predictionReq
	predictionSeq string
	// decisions and rewards batch SaveDecision and SaveReward calls into
	// one statement each.
	decisions chan *decisionReq
	rewards   chan *rewardReq

	// horizons are what RewardedSince knows of each experiment's log.
	horizonMu sync.Mutex
	horizons  map[string]*rewardHorizon
}

// defaultMaxConns is the pool size when the DSN does not set
// pool_max_conns.
const defaultMaxConns = 16

// HasSchema reports whether the database named by dsn holds Lift's
// schema where its search_path looks (a migrated database), without
// creating anything: the commands that only read or change what is
// stored refuse a database that has none, as they refuse a SQLite file
// that does not exist, instead of migrating an empty schema that a
// mistyped search_path or database name happened to name.
func HasSchema(ctx context.Context, dsn string) (_ bool, err error) {
	defer lift.Wrap(&err, "postgres.HasSchema")
	cfg, err := pgxpool.ParseConfig(dsn) // which takes out pool_* settings
	if err != nil {
		return false, lift.Errorf(lift.Invalid, "cannot parse the PostgreSQL connection string")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return false, classify(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var has bool
	// schema_migrations alone is other tools' name too (golang-migrate's,
	// Rails'): Lift's clips table must be there with it.
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL AND to_regclass('clips') IS NOT NULL`).Scan(&has); err != nil {
		return false, classify(err)
	}
	return has, nil
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string; search_path may be set in it) and migrates it to the
// newest schema. Migration runs under a session advisory lock, so replicas
// starting together apply each migration exactly once.
func Open(ctx context.Context, dsn string) (_ *DB, err error) {
	defer lift.Wrap(&err, "postgres.Open")
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password and all.
		return nil, lift.Errorf(lift.Invalid, "cannot parse the PostgreSQL connection string")
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default, max(4, CPUs), was too few when decisions
		// and rewards committed a statement each (PostgreSQL's group
		// commit needs many in flight to share a flush). They are
		// batched now, but the three batchers (predictions, decisions,
		// rewards) each hold a connection through their commit, and the
		// reads (clip features, stats, the reward log, the dashboard)
		// must not queue behind them.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify(err)
	}
	db := &DB{Now: lift.StoredNow, pool: pool, features: lift.NewFeatureCache(featureCacheSize),
		stopped: make(chan struct{}), preds: make(chan *predictionReq), decisions: make(chan *decisionReq),
		rewards:  make(chan *rewardReq),
		horizons: map[string]*rewardHorizon{}}
	db.features.SetEnabled(false)
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT pg_get_serial_sequence('predictions', 'id')`).Scan(&db.predictionSeq); err != nil {
		pool.Close()
		return nil, classify(err)
	}
	bg, stop := context.WithCancel(context.Background())
	db.stop = stop
	ready := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { db.listenClips(bg, ready) })
	wg.Go(func() { db.recordPredictions(bg) })
	wg.Go(func() { db.saveDecisions(bg) })
	wg.Go(func() { db.saveRewards(bg) })
	wg.Go(func() { db.foldCounts(bg) })
	go func() { wg.Wait(); close(db.stopped) }()
	// Serve from the cache from the start if the listener comes up soon;
	// without it every read goes to the database, which is correct too.
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
	}
	return db, nil
}

// SetLogger sets where the store reports trouble in its background work.
func (db *DB) SetLogger(l *slog.Logger) { db.logger.Store(l) }

// Close stops the store's background work and closes every connection
// of the pool.
func (db *DB) Close() error {
	db.stop()
	<-db.stopped
	db.pool.Close()
	return nil
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "postgres.Ping")
	return classify(db.pool.Ping(ctx))
}

// Migrate applies every embedded migration not yet applied, each in its
// own transaction, in file-name order. It holds a session advisory lock,
// keyed by the current schema, on a connection of its own: if the process
// dies mid-way the server ends the session and so releases the lock.
func (db *DB) Migrate(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "postgres.Migrate")
	return db.migrate(ctx, "")
}

// migrate applies the migrations not yet applied, in name order, up to
// and including the one named through ("" for all of them).
func (db *DB) migrate(ctx context.Context, through string) (err error) {
	defer func() { err = classify(err) }()
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext(current_schema() || '.lift.migrate'))`); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		if through != "" && base > through {
			break
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = $1`, base).Scan(&n); err != nil || n > 0 {
				return err
			}
			// No arguments: pgx sends the file with the simple protocol,
			// which runs several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES ($1, $2)`, base, db.Now())
			return err
		}); err != nil {
			return err
		}
	}
	if err := pinCountFunctions(ctx, conn); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext(current_schema() || '.lift.migrate'))`)
	return err
}

// pinCountFunctions sets the search_path of the prediction counts'
// trigger functions (migration 0011) to the schema that holds
// prediction_batches, where it is not that already: they then find their
// tables whatever the search_path of the session whose statement fires
// them, and again after the schema is renamed (once a server has started
// on it). A role that does not own them leaves them as they are (with a
// warning in PostgreSQL's log) instead of failing the start.
func pinCountFunctions(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `DO $$
		DECLARE
			schema regnamespace := (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('prediction_batches'));
			f regprocedure;
		BEGIN
			IF schema IS NULL OR to_regclass('prediction_count_deltas') IS NULL THEN
				RETURN;
			END IF;
			FOR f IN SELECT p.oid FROM pg_proc p
				WHERE p.pronamespace = schema AND p.proname LIKE 'lift\_%count%'
					AND p.proconfig IS DISTINCT FROM ARRAY['search_path=' || schema::text] LOOP
				BEGIN
					EXECUTE format('ALTER FUNCTION %s SET search_path = %s', f, schema);
				EXCEPTION WHEN insufficient_privilege THEN
					-- A role that does not own them (the migrations ran as
					-- another): the owner's next start pins them.
					RAISE WARNING 'lift: cannot set the search_path of %: %', f, SQLERRM;
				END;
			END LOOP;
		END $$`)
	return err
}

// tx runs f in a transaction, committing when it returns nil.
func (db *DB) tx(ctx context.Context, f func(pgx.Tx) error) error {
	return classify(pgx.BeginFunc(ctx, db.pool, f))
}

// classify gives database errors the kind the caller can act on: text
// PostgreSQL cannot store (a NUL character, invalid UTF-8) is the caller's
// Invalid input, a database that cannot be reached is Unavailable. Errors
// that already have a kind keep it.
func classify(err error) error {
	if err == nil || lift.KindOf(err) != lift.Internal {
		return err
	}
	// A connection that could not be made is the database out of reach,
	// also when it was connect_timeout that ended the attempt.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return &lift.Error{Kind: lift.Unavailable, Err: &lift.DatabaseDown{Cause: &connectError{ce}}}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		// The caller's context ended: the HTTP layer says so (499, 503).
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "22P05", "22021": // untranslatable_character, character_not_in_repertoire
			return lift.Errorf(lift.Invalid, "text PostgreSQL cannot store (NUL character or invalid UTF-8): %s", pe.Message)
		case "57P01", "57P02", "57P03", "53300": // shutting down, too many connections
			return &lift.Error{Kind: lift.Unavailable, Err: &lift.DatabaseDown{Cause: err}}
		}
		return err
	}
	// The server unreachable, or the connection lost mid-statement (the
	// server crashed or was stopped with -m immediate): unexpected EOF,
	// a closed socket, or pgx's own "conn closed" for a connection it
	// closed after such a loss.
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) {
		return &lift.Error{Kind: lift.Unavailable, Err: &lift.DatabaseDown{Cause: err}}
	}
	return err
}

// connectError is a failed connection told on one line, each distinct
// cause once: pgx lists every attempt on a line of its own, and with
// sslmode=prefer (the default) a server that cannot be reached fails the
// TLS attempt and the plain one alike, so the same dial error (or DNS
// lookup) came twice.
type connectError struct{ *pgconn.ConnectError }

func (e *connectError) Error() string {
	msg := e.ConnectError.Error()
	head, details, ok := strings.Cut(msg, "`:")
	if !ok {
		return msg
	}
	var causes []string
	for _, line := range strings.Split(details, "\n") {
		line = strings.TrimSpace(line)
		seen := line == ""
		for _, c := range causes {
			// "hostname resolving error: X" and then X again.
			seen = seen || c == line || strings.HasSuffix(c, ": "+line)
		}
		if !seen {
			causes = append(causes, line)
		}
	}
	return head + "`: " + strings.Join(causes, "; ")
}

func (e *connectError) Unwrap() error { return e.ConnectError }
