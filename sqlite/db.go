// Package sqlite stores Lift's state in an embedded SQLite database (pure
// Go driver, WAL mode) with embedded migrations.
package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"lift"
	"lift/internal/groupcommit"
	"lift/internal/watermark"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open Lift database. Writes go through one connection (SQLite
// has one writer at a time; queuing in Go is cheaper than busy-waiting in
// SQLite), reads through a small pool that WAL lets run beside the writer.
type DB struct {
	Path string
	// Now is the clock; tests replace it. By default it reads the time as
	// it is kept (lift.StoredTime: UTC, to the microsecond), so that what
	// a write answers is what a later read gives, on either store.
	Now func() time.Time

	write *sql.DB
	// wconn is write's only connection, held by the writer goroutine for
	// the life of the DB: transactions are BEGIN IMMEDIATE and COMMIT
	// statements prepared once on it (sql.DB.BeginTx parsed both again for
	// every group commit), and every statement is prepared on it.
	wconn *sql.Conn
	read  *reader

	// wstmts is the writer goroutine's statement cache.
	wstmts map[string]*sql.Stmt
	// lastPred is the id of the last prediction this writer committed (0
	// before the first): the durability watermark and the clip index
	// follow it.
	lastPred int64
	// indexedUpto is where prediction_clip_index ends, as this writer
	// last knew it; merge is the merge it is carrying out, if any (see
	// clipindex.go).
	indexedUpto int64
	merge       *mergePlan
	// indexEvery is how many unindexed predictions start a merge
	// (defaultIndexEvery; set before the writer starts).
	indexEvery int64
	// tail is this writer's committed predictions above indexedUpto, in
	// id order, from which a merge is planned without reading the table
	// back (see planFromTail); commitsSinceTick counts group commits
	// since the writer's last tick, which merges at once when it is 0.
	tail             []clipPrediction
	commitsSinceTick int

	// Durability of predictions (see syncer). pipelined is set when the
	// database is in WAL mode; syncFull is the writer connection's
	// current synchronous setting; syncq carries committed batches of
	// predictions to the syncer; durablePred is the largest prediction id
	// known to be on disk, the most any read of predictions shows.
	pipelined   bool
	walPath     string
	syncFull    bool
	syncq       chan pendingSync
	syncerDone  chan struct{}
	durablePred atomic.Int64
	// syncBroken holds the error that refuses every write once a sync of
	// the WAL has failed (see syncer).
	syncBroken atomic.Pointer[lift.Error]
	// held is the open transaction of predictions waiting for the syncer
	// to be free (see holdPredictions); the writer goroutine's only.
	// unsynced counts the commits handed to the syncer and not yet
	// answered; syncIdle wakes the writer when it drops to zero.
	held     *heldTx
	unsynced atomic.Int64
	syncIdle chan struct{}
	// reruns counts batches that failed and were rerun call by call.
	reruns atomic.Int64

	// features caches clips' model inputs for predictions. This process's
	// clip writes invalidate it; a change by another process is noticed
	// by the writer through PRAGMA data_version within
	// externalCheckInterval.
	features *lift.FeatureCache
	// dataVersion is the writer connection's last PRAGMA data_version.
	dataVersion int64

	writes     chan *writeReq
	closed     chan struct{}
	writerDone chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// Open opens (creating if needed) the database file at path and migrates
// it to the newest schema.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, defaultIndexEvery)
}

// open is Open with the merge window of the per-clip index (see
// defaultIndexEvery) as a parameter, for tests.
func open(ctx context.Context, path string, indexEvery int64) (*DB, error) {
	if path == "" {
		return nil, lift.Errorf(lift.Invalid, "sqlite: empty database path")
	}
	// The directory must be there already: creating it would turn a
	// mistyped path into a new, empty database somewhere unexpected.
	if dir := filepath.Dir(path); dir != "." {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, lift.Errorf(lift.Invalid, "directory %s does not exist", dir)
		case err != nil:
			return nil, fmt.Errorf("sqlite: %w", err)
		case !fi.IsDir():
			return nil, lift.Errorf(lift.Invalid, "%s is not a directory", dir)
		}
	}
	// synchronous(FULL): a commit is on disk before it is acknowledged,
	// power loss included; group commit spreads the fsync over a batch.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	wconn, err := w.Conn(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		wconn.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4) // reopening a connection costs its pragmas and prepared statements
	db := &DB{Path: path, Now: lift.StoredNow, write: w, wconn: wconn, read: &reader{pool: r}, wstmts: map[string]*sql.Stmt{},
		features: lift.NewFeatureCache(featureCacheSize),
		writes:   make(chan *writeReq), closed: make(chan struct{}), writerDone: make(chan struct{}),
		syncFull: true, syncq: make(chan pendingSync, maxBatch), syncerDone: make(chan struct{}),
		syncIdle: make(chan struct{}, 1), indexEvery: indexEvery}
	go db.syncer(db.syncq)
	go db.writer()
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.startPipeline(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes the database. The last connection to close checkpoints
// the WAL into the database file and removes it, so that the file alone
// holds everything once every process has closed it. That needs every
// statement finalized first: SQLite keeps a connection with a live
// statement open (and its files) past its close, and database/sql closes
// only the statements it prepared on its pool, not those prepared on a
// held connection as the writer's are.
//
// The teardown runs once; later and concurrent calls wait for it and
// return its error.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.closed)
		<-db.writerDone
		for _, st := range db.wstmts {
			st.Close()
		}
		db.read.stmts.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
		rerr := db.read.pool.Close()
		db.wconn.Close()
		db.closeErr = cmp.Or(db.write.Close(), rerr)
	})
	return db.closeErr
}

// Ping checks that the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.read.pool.PingContext(ctx) }

// Migrate applies every embedded migration not yet applied, each in its
// own transaction, in file-name order.
func (db *DB) Migrate(ctx context.Context) (err error) {
	defer lift.Wrap(&err, "sqlite.Migrate")
	if err := db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`)
		return err
	}); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if err := db.tx(ctx, func(tx *wtx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("%s: %w", base, err)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(name, applied_at) VALUES (?, ?)`, base, db.now())
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// tx runs f in a write transaction and returns once it is committed
// (or rolled back when f fails). Concurrent calls are group-committed:
// the writer goroutine runs up to maxBatch of them in one transaction;
// if one fails, each reruns in a transaction of its own (see commit). One commit then makes a whole batch durable, which is what lets
// decisions, rewards and predictions be written at thousands per second.
func (db *DB) tx(ctx context.Context, f func(*wtx) error) error {
	return db.send(ctx, write{f: f})
}

// send queues w for the writer and waits for its commit.
func (db *DB) send(ctx context.Context, w write) error {
	return groupcommit.Submit(ctx, db.writes, db.closed, errClosed, w)
}

var errClosed = lift.Errorf(lift.Unavailable, "sqlite: database is closed")

// write is what a call asks the writer to run.
type write struct {
	f func(*wtx) error
	// pred, when set, is the prediction f records: a batch inserts all
	// of its predictions with a few multi-row statements instead of one
	// statement each (f is still what a rerun runs).
	pred *lift.Prediction
}

type writeReq = groupcommit.Request[write]

// maxBatch bounds a group commit.
const maxBatch = 256

// writer owns the write connection.
func (db *DB) writer() {
	defer close(db.writerDone)
	defer func() {
		close(db.syncq) // the syncer answers what it holds, then stops
		<-db.syncerDone
	}()
	// Under a steady stream of writes the tick still gets its turn: select
	// picks at random among the ready cases.
	tick := time.NewTicker(externalCheckInterval)
	defer tick.Stop()
	for {
		var batch []*writeReq
		var idle <-chan struct{}
		if db.held != nil {
			idle = db.syncIdle
		}
		select {
		case req := <-db.writes:
			batch = append(batch, req)
		case <-idle:
			if db.unsynced.Load() == 0 {
				db.releaseHeld()
				db.maybeIndexClips(false)
			}
			continue
		case <-tick.C:
			db.releaseHeld()
			db.checkExternalWrites()
			// A whole merge only when the writer was idle since the last
			// tick; under load, one step, as after any commit.
			db.maybeIndexClips(db.commitsSinceTick == 0)
			db.commitsSinceTick = 0
			continue
		case <-db.closed:
			db.releaseHeld()
			return
		}
		db.commit(groupcommit.Gather(db.writes, batch, maxBatch))
		if db.held == nil {
			db.maybeIndexClips(false)
		}
	}
}

// pendingSync is a committed batch of predictions waiting to be synced:
// its requests and the largest prediction id committed with it.
type pendingSync struct {
	reqs []*writeReq
	upto int64
}

// syncer makes committed batches of predictions durable, and only then
// acknowledges them. Predictions are committed with synchronous=NORMAL,
// which writes the WAL without syncing it, and handed here; the writer
// goes on to the next batch while this goroutine syncs the WAL file once
// for every commit handed over meanwhile (while a sync runs, the writer
// gathers the predictions that come into one commit: see
// holdPredictions). That takes the ~0.3-0.6 ms disk sync out of the
// writer's cycle and shares it among more predictions: the request still
// waits for it, as it would with synchronous=FULL. Every other write
// (clips, outcomes, experiments, models) commits with synchronous=FULL.
//
// Until the sync, a committed prediction is visible to a reader of the
// table; this DB's own reads of predictions show only ids up to
// durablePred, so nothing they return can be lost by a power failure.
func (db *DB) syncer(q <-chan pendingSync) {
	defer close(db.syncerDone)
	var wal *os.File
	defer func() {
		if wal != nil {
			wal.Close()
		}
	}()
	for p := range q {
		pending := groupcommit.Drain(q, []pendingSync{p}, math.MaxInt)
		// A failed sync fails its requests (their rows are committed but
		// perhaps not on disk) and stops all writing: after a failed
		// fsync the kernel may have dropped the pages, so no later sync
		// can vouch for them, nor for the commits chained after them in
		// the WAL. The server must be restarted, as PostgreSQL does.
		var err error
		if broken := db.syncBroken.Load(); broken != nil {
			err = broken
		} else if wal, err = db.syncWAL(wal); err != nil {
			err = lift.Errorf(lift.Internal, "sqlite: syncing the write-ahead log: %v", err)
			db.syncBroken.CompareAndSwap(nil, lift.Errorf(lift.Unavailable,
				"sqlite: a sync of the write-ahead log failed (%v); writes are refused until the server restarts", err).(*lift.Error))
		}
		for _, p := range pending {
			if err == nil {
				watermark.Raise(&db.durablePred, p.upto)
			}
			for _, r := range p.reqs {
				r.Answer(err)
			}
		}
		if db.unsynced.Add(-int64(len(pending))) == 0 {
			select {
			case db.syncIdle <- struct{}{}:
			default: // a wake-up is waiting already
			}
		}
	}
}

// syncWAL flushes the database's WAL file to disk, (re)opening it when
// f is nil or no longer the file at that path, and returns the file to
// use next time.
func (db *DB) syncWAL(f *os.File) (*os.File, error) {
	path := db.walPath
	if f != nil && !isFileAt(f, path) {
		f.Close()
		f = nil
	}
	if f == nil {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
	}
	return f, datasync(f)
}

// sameFileStat reports whether f is still the file at path, by os.Stat
// (see isFileAt).
func sameFileStat(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// startPipeline enables the syncer when the database is in WAL mode and
// its WAL file can be opened (a file system without shared memory can
// leave it in rollback-journal mode; then every write stays
// synchronous=FULL), and sets durablePred to what is on disk: a process
// killed before its syncer ran may have left commits that are in the file
// but not yet synced.
func (db *DB) startPipeline(ctx context.Context) error {
	// One transaction on the writer goroutine, which owns the fields it
	// sets; it commits with synchronous=FULL, as anything but a batch of
	// predictions does. Should the commit fail, so does Open.
	return db.tx(ctx, func(tx *wtx) error {
		var mode, file string
		if err := tx.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			return err
		}
		// The WAL is named after the file SQLite opened: symbolic links
		// resolved, URI escapes decoded.
		if err := tx.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT indexed_upto FROM prediction_index_state`).Scan(&db.indexedUpto); err != nil {
			return err
		}
		last, err := syncedLastPrediction(ctx, tx)
		if err != nil {
			return err
		}
		db.durablePred.Store(last)
		// Through tx: its commit sets db.lastPred from it (committed),
		// and a zero there hid the unmerged tail from the idle merge
		// until the next prediction.
		db.lastPred, tx.lastPred = last, last
		db.walPath = file + "-wal"
		// What other connections have written from here on is what
		// checkExternalWrites and writtenElsewhere look for.
		if err := tx.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&db.dataVersion); err != nil {
			return err
		}
		if f, err := os.Open(db.walPath); err == nil && strings.EqualFold(mode, "wal") {
			f.Close()
			db.pipelined = true
		}
		return nil
	})
}

// syncedLastPrediction returns the largest prediction id once it and
// every commit before it are on disk. The caller runs it in a
// transaction with synchronous=FULL (anything but a batch of predictions
// is): the bump of sync_marks makes the commit write to the WAL, and
// SQLite then syncs the WAL before the commit returns. A commit that
// changes nothing writes nothing and syncs nothing.
func syncedLastPrediction(ctx context.Context, tx *wtx) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM predictions`).Scan(&last); err != nil {
		return 0, err
	}
	_, err := tx.ExecContext(ctx, `UPDATE prediction_index_state SET sync_marks = sync_marks + 1`)
	return last, err
}

// Bounds of the clip feature cache: its size (about 30 MB when full)
// and how stale it can be for clips written by another process.
const (
	featureCacheSize      = 1 << 18
	externalCheckInterval = time.Second
)

// checkExternalWrites clears the feature cache when another connection
// (another process: this one writes only through the writer) has
// committed since the last check. PRAGMA data_version changes with every
// commit made by a connection other than the one asking.
func (db *DB) checkExternalWrites() {
	var v int64
	if err := db.wconn.QueryRowContext(context.Background(), `PRAGMA data_version`).Scan(&v); err != nil {
		db.features.Clear() // cannot tell: assume the worst
		return
	}
	if v != db.dataVersion {
		db.dataVersion = v
		db.features.Clear()
		db.forgetTail()
		db.showExternalPredictions()
	}
}

// forgetTail drops what the writer remembers of the predictions it has
// not merged, after another connection has written: it may have deleted
// or changed some. The next merge plans from the table, and counts from
// it (a merge under way does too).
func (db *DB) forgetTail() {
	db.tail = nil
	if db.merge != nil {
		db.merge.counts = nil
	}
}

// writtenElsewhere reports whether another connection has committed since
// the writer last looked (checkExternalWrites takes note of it within a
// second); when it cannot tell, it says so.
func (db *DB) writtenElsewhere(tx *wtx) bool {
	var v int64
	if err := tx.QueryRowContext(context.Background(), `PRAGMA data_version`).Scan(&v); err != nil {
		return true
	}
	return v != db.dataVersion
}

// showExternalPredictions raises durablePred over predictions another
// process has committed, which this process's syncer knows nothing of,
// once they are on disk (see syncedLastPrediction).
func (db *DB) showExternalPredictions() {
	if db.syncBroken.Load() != nil || db.setSynchronous(true) != nil {
		return
	}
	var last int64
	if err := db.runTx(func(tx *wtx) error {
		var err error
		last, err = syncedLastPrediction(context.Background(), tx)
		return err
	}); err == nil {
		watermark.Raise(&db.durablePred, last)
	}
}

func (db *DB) commit(batch []*writeReq) {
	live := groupcommit.Live(batch)
	if len(live) == 0 {
		return
	}
	db.commitsSinceTick++
	if err := db.syncBroken.Load(); err != nil {
		answerAll(live, err)
		return
	}
	predsOnly := db.pipelined
	for _, r := range live {
		predsOnly = predsOnly && r.Item.pred != nil
	}
	// If NORMAL cannot be set, the batch commits with FULL: slower, as safe.
	if predsOnly && (db.held != nil || db.setSynchronous(false) == nil) {
		db.holdPredictions(live)
		return
	}
	db.releaseHeld()
	if err := db.setSynchronous(true); err != nil {
		answerAll(live, err)
		return
	}
	before := db.lastPred
	// Optimistically run the whole batch in one transaction. Failures are
	// rare (a missing clip, a duplicate id); when one happens, the batch
	// is rolled back and every call reruns alone, so one call's failure
	// never undoes another's write. Calls only write through tx, so a
	// rerun starts from the same state.
	err := db.runTx(func(tx *wtx) error {
		var preds []*lift.Prediction
		for _, r := range live {
			if r.Item.pred != nil {
				preds = append(preds, r.Item.pred)
				continue
			}
			if err := r.Item.f(tx); err != nil {
				return err
			}
		}
		return insertPredictions(tx, preds)
	})
	if err == nil || len(live) == 1 {
		db.committedFull(err, before)
		answerAll(live, err)
		return
	}
	db.rerun(live)
}

// rerun runs each call of a failed batch in a transaction of its own,
// committed with synchronous=FULL.
func (db *DB) rerun(live []*writeReq) {
	db.reruns.Add(1)
	if err := db.setSynchronous(true); err != nil {
		answerAll(live, err)
		return
	}
	for _, r := range live {
		before := db.lastPred
		err := db.runTx(r.Item.f)
		db.committedFull(err, before)
		r.Answer(err)
	}
}

func answerAll(rs []*writeReq, err error) {
	for _, r := range rs {
		r.Answer(err)
	}
}

// heldTx is the transaction holdPredictions keeps open, and the calls
// whose predictions it holds.
type heldTx struct {
	tx   *wtx
	reqs []*writeReq
}

// maxHeld bounds the predictions one held transaction gathers.
const maxHeld = 4 * maxBatch

// holdPredictions inserts a batch made only of predictions into the held
// transaction, beginning one (synchronous is NORMAL) if none is open, and
// commits it at once if the syncer is free. When the syncer is busy, the
// transaction stays open and gathers the batches that come meanwhile,
// until it is free again (the writer's loop watches syncIdle): those
// predictions would wait for that sync anyway, and one commit for them
// all costs the writer less and writes each WAL page once, not once per
// batch.
//
// Failures are rare (a clip deleted since it was read): one rolls the
// held transaction back, and every call it held, this batch's included,
// reruns in a transaction of its own. None of them was acknowledged yet.
func (db *DB) holdPredictions(live []*writeReq) {
	ctx := context.Background()
	if db.held == nil {
		tx := &wtx{conn: db.wconn, db: db, lastPred: db.lastPred}
		if _, err := tx.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			answerAll(live, err)
			return
		}
		db.held = &heldTx{tx: tx}
	}
	h := db.held
	h.reqs = append(h.reqs, live...)
	preds := make([]*lift.Prediction, len(live))
	for i, r := range live {
		preds[i] = r.Item.pred
	}
	if err := protect("write", func() error { return insertPredictions(h.tx, preds) }); err != nil {
		db.held = nil
		db.merge = nil // a step it held, if any, is rolled back too
		h.tx.ExecContext(ctx, `ROLLBACK`)
		db.rerun(h.reqs)
		return
	}
	if db.unsynced.Load() == 0 || len(h.reqs) >= maxHeld {
		db.releaseHeld()
		return
	}
	// The transaction waits for the syncer: a step of the clip index's
	// merge goes in meanwhile.
	if db.mergeDue(false) {
		db.mergeHeld(h.tx)
	}
}

// protect runs f with a panic in it (a bug) turned into an error, so
// that it fails the write instead of the writer goroutine, which every
// write in the process depends on.
func protect(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = lift.Errorf(lift.Internal, "sqlite: %s panicked: %v", what, p)
		}
	}()
	return f()
}

// releaseHeld commits the held transaction, if one is open, and hands
// its calls to the syncer.
func (db *DB) releaseHeld() {
	h := db.held
	if h == nil {
		return
	}
	db.held = nil
	ctx := context.Background()
	if _, err := h.tx.ExecContext(ctx, `COMMIT`); err != nil {
		h.tx.ExecContext(ctx, `ROLLBACK`) // a failed COMMIT can leave it open
		db.merge = nil
		answerAll(h.reqs, err)
		return
	}
	db.committed(h.tx)
	db.unsynced.Add(1)
	db.syncq <- pendingSync{reqs: h.reqs, upto: db.lastPred}
}

// committed takes in what tx inserted once it is committed.
func (db *DB) committed(tx *wtx) {
	db.lastPred = tx.lastPred
	db.tail = append(db.tail, tx.inserted...)
	if len(db.tail) > maxTail { // merges are failing: plan from the table
		db.tail = slices.Delete(db.tail, 0, len(db.tail)-maxTail/2)
	}
}

// maxTail bounds db.tail.
const maxTail = 1 << 18

// committedFull notes a commit made with synchronous=FULL that inserted
// predictions (before was db.lastPred when it began): having written to
// the WAL, it was synced before it returned, and with it every prediction
// committed so far, those still waiting for the syncer included. A commit
// that inserted none may have written nothing, and then synced nothing.
func (db *DB) committedFull(err error, before int64) {
	if err == nil && db.lastPred > before {
		watermark.Raise(&db.durablePred, db.lastPred)
	}
}

// setSynchronous switches the writer connection between
// synchronous=FULL (SQLite syncs the WAL inside each commit) and NORMAL
// (the syncer does it after the commit), when it is not already there.
func (db *DB) setSynchronous(full bool) error {
	if full == db.syncFull {
		return nil
	}
	q := `PRAGMA synchronous=NORMAL`
	if full {
		q = `PRAGMA synchronous=FULL`
	}
	tx := &wtx{conn: db.wconn, db: db}
	if _, err := tx.ExecContext(context.Background(), q); err != nil {
		return err // the setting stays as it was, and so does syncFull
	}
	db.syncFull = full
	return nil
}

// runTx runs f in one transaction on the writer's connection. A panic
// in f (a bug) fails the transaction (see protect).
func (db *DB) runTx(f func(*wtx) error) error {
	ctx := context.Background()
	tx := &wtx{conn: db.wconn, db: db, lastPred: db.lastPred}
	if _, err := tx.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	err := protect("write", func() error { return f(tx) })
	if err == nil {
		if _, err = tx.ExecContext(ctx, `COMMIT`); err == nil {
			db.committed(tx)
			return nil
		}
	}
	// A failed COMMIT can leave the transaction open (SQLITE_BUSY); after
	// a failed statement it may already be gone, and then ROLLBACK's own
	// error says only that.
	tx.ExecContext(ctx, `ROLLBACK`)
	return err
}

// wtx is the writer's open transaction. Its statements are prepared once
// on the writer's connection and reused: parsing SQL cost more than
// executing it on the hot paths. Only the writer goroutine uses it, so
// the cache needs no lock.
type wtx struct {
	conn *sql.Conn
	db   *DB
	// lastPred is the id of the last prediction inserted, starting from
	// db.lastPred; it becomes db.lastPred when the commit succeeds, and
	// inserted joins db.tail.
	lastPred int64
	inserted []clipPrediction
}

// stmt returns q prepared on the writer's connection, or nil for a
// statement not worth caching (or one that fails to prepare: running it
// unprepared then reports the error).
func (t *wtx) stmt(ctx context.Context, q string) *sql.Stmt {
	if st := t.db.wstmts[q]; st != nil {
		return st
	}
	if !cacheable(q) {
		return nil
	}
	st, err := t.conn.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	t.db.wstmts[q] = st
	return st
}

// cacheable excludes migrations: multi-statement scripts and DDL.
func cacheable(q string) bool {
	return !strings.Contains(q, ";") && !strings.HasPrefix(strings.TrimSpace(q), "CREATE")
}

// ExecContext runs q through the statement cache.
func (t *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.conn.ExecContext(ctx, q, args...)
}

// QueryRowContext runs q through the statement cache.
func (t *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.conn.QueryRowContext(ctx, q, args...)
}

// reader runs read queries through statements prepared once per query
// (database/sql prepares them on each pooled connection as needed).
type reader struct {
	pool  *sql.DB
	stmts sync.Map // query -> *sql.Stmt
}

func (r *reader) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := r.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := r.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := r.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// QueryRowContext is sql.DB's, through the statement cache.
func (r *reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return r.pool.QueryRowContext(ctx, q, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// QueryContext is sql.DB's, through the statement cache.
func (r *reader) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (db *DB) now() string { return formatTime(db.Now()) }

const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s)
	return t
}
