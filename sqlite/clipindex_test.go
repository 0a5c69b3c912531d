package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"lift"
	"lift/storetest"
)

// TestClipPredictionsPlan checks SQLite answers the per-clip reads from
// the index and the table's id order, without sorting a clip's history
// or scanning the table.
func TestClipPredictionsPlan(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "p.db"))
	for _, q := range []string{clipPredictionsSQL, countClipPredictionsSQL} {
		rows, err := db.read.pool.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, "c", 10, 10)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		for _, bad := range []string{"TEMP B-TREE", "SCAN predictions", "SCAN p\n", "SCAN x"} {
			if strings.Contains(text+"\n", bad) {
				t.Errorf("plan has %q:\n%s", bad, text)
			}
		}
	}
}

// TestClipIndexMerges records enough predictions over a few clips for
// several merges, with outcomes on one clip, and checks every per-clip
// read against what was recorded at each step: before a merge (tail
// only), across merges, and after an idle merge.
func TestClipIndexMerges(t *testing.T) {
	ctx := context.Background()
	const indexEvery = 2048
	db := mustOpenIndexEvery(t, filepath.Join(t.TempDir(), "m.db"), indexEvery)
	clips := []string{"a", "b", "c"}
	for _, id := range clips {
		if _, err := db.PutClip(ctx, &lift.Clip{ID: id, Duration: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddOutcomes(ctx, []*lift.Outcome{{ClipID: "b", Impressions: 10, Clicks: 1}}); err != nil {
		t.Fatal(err)
	}
	recorded := map[string][]int64{}
	check := func(when string) {
		t.Helper()
		for _, c := range clips {
			want := recorded[c]
			ps, err := db.ClipPredictions(ctx, c, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, p := range ps {
				got = append(got, p.ID)
			}
			wantDesc := make([]int64, len(want))
			for i, id := range want {
				wantDesc[len(want)-1-i] = id
			}
			if fmt.Sprint(got) != fmt.Sprint(wantDesc) {
				t.Fatalf("%s: clip %s predictions = %d ids, want %d (first %v vs %v)", when, c, len(got), len(want), head(got), head(wantDesc))
			}
			if len(want) > 3 {
				top, err := db.ClipPredictions(ctx, c, 3)
				if err != nil || fmt.Sprint(ids(top)) != fmt.Sprint(wantDesc[:3]) {
					t.Fatalf("%s: clip %s latest 3 = %v, %v; want %v", when, c, ids(top), err, wantDesc[:3])
				}
			}
			n, err := db.CountPredictionsWithActual(ctx, c)
			wantN := 0
			if c == "b" {
				wantN = len(want)
			}
			if err != nil || n != wantN {
				t.Fatalf("%s: CountPredictionsWithActual(%s) = %d, %v; want %d", when, c, n, err, wantN)
			}
		}
	}
	record := func(n int) {
		for i := range n {
			c := clips[i%len(clips)]
			if i%5 == 0 {
				c = "a" // uneven
			}
			p := storetest.NewPrediction(&c)
			if err := db.RecordPrediction(ctx, p); err != nil {
				t.Fatal(err)
			}
			recorded[c] = append(recorded[c], p.ID)
		}
	}
	// indexed_upto is read from the table: db.indexedUpto is the writer
	// goroutine's, which may be merging meanwhile.
	indexedUpto := func() int64 {
		t.Helper()
		var n int64
		if err := db.read.QueryRowContext(ctx, `SELECT indexed_upto FROM prediction_index_state`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	record(100)
	// The writer's idle tick may have merged these already; fewer than
	// indexEvery never trigger a merge of their own.
	tailOnly := indexedUpto() == 0
	check("tail only")
	if !tailOnly {
		t.Log("the idle tick merged the first predictions: the tail-only reads were not exercised this run")
	}
	record(indexEvery * 2)
	check("after merges")
	if indexedUpto() == 0 {
		t.Fatal("no merge after 2 x indexEvery predictions")
	}
	// The writer's idle tick (every externalCheckInterval) takes in the rest.
	var tail int
	for deadline := time.Now().Add(10 * externalCheckInterval); ; time.Sleep(50 * time.Millisecond) {
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM predictions WHERE id > (SELECT indexed_upto FROM prediction_index_state)`).Scan(&tail); err != nil {
			t.Fatal(err)
		}
		if tail == 0 || time.Now().After(deadline) {
			break
		}
	}
	if tail != 0 {
		t.Errorf("%d predictions still unindexed after the writer was idle", tail)
	}
	check("after an idle merge")
}

func ids(ps []*lift.Prediction) []int64 {
	var out []int64
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

func head(s []int64) []int64 { return s[:min(len(s), 5)] }

// TestClipReadsMidMerge stops a merge after its first step, inside one
// transaction on the writer, and reads every clip there: the clips below
// merged_below are in the index as well as in the tail, and each read
// must list the clip's predictions exactly once.
func TestClipReadsMidMerge(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "mid.db"))
	clips := []string{"a", "b", "c", "d", "e"}
	for _, id := range clips {
		if _, err := db.PutClip(ctx, &lift.Clip{ID: id, Duration: 5}); err != nil {
			t.Fatal(err)
		}
	}
	recorded := map[string][]int64{}
	for i := range 5 * mergeStepRows {
		c := clips[i%len(clips)]
		p := storetest.NewPrediction(&c)
		if err := db.RecordPrediction(ctx, p); err != nil {
			t.Fatal(err)
		}
		recorded[c] = append(recorded[c], p.ID)
	}
	err := db.tx(ctx, func(tx *wtx) error {
		// Finish whatever the idle tick started, then start a merge of
		// the tail and take one step of it.
		for {
			done, err := db.mergeStep(tx, true)
			if err != nil || done {
				break
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE prediction_index_state SET indexed_upto = 0`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM prediction_clip_index`); err != nil {
			return err
		}
		db.indexedUpto, db.merge = 0, nil
		done, err := db.mergeStep(tx, true)
		if err != nil {
			return err
		}
		var below sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT merged_below FROM prediction_index_state`).Scan(&below); err != nil {
			return err
		}
		if done || !below.Valid || below.String <= "a" || below.String > "e" {
			// This runs on the writer goroutine: no t.Fatal here.
			return fmt.Errorf("after one step: done %v, merged_below %v; want a merge under way past clip a", done, below)
		}
		for _, c := range clips {
			rows, err := tx.conn.QueryContext(ctx, clipPredictionsSQL, c, 1<<60, 1<<30)
			if err != nil {
				return err
			}
			var got []int64
			for rows.Next() {
				var p lift.Prediction
				var created string
				if err := rows.Scan(&p.ID, &p.ClipID, &p.ModelVersion, &p.Source, &p.PredictedCTR, &p.Band,
					&p.Confidence, &p.Interval[0], &p.Interval[1], &created); err != nil {
					rows.Close()
					return err
				}
				got = append(got, p.ID)
			}
			rows.Close()
			want := slices.Clone(recorded[c])
			slices.Reverse(want)
			if !slices.Equal(got, want) {
				t.Errorf("clip %s (merged below %q) mid-merge: %d ids %v, want %d %v", c, below.String, len(got), head(got), len(want), head(want))
			}
			var n int
			if err := tx.QueryRowContext(ctx, countClipPredictionsSQL, c, 1<<60).Scan(&n); err != nil {
				return err
			}
			if n != len(want) {
				t.Errorf("clip %s mid-merge: count %d, want %d", c, n, len(want))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMergeCountsFromTable: a merge planned from the table (after a
// restart, or when another process inserted) has no counts from the
// writer's memory, and one after a merge by an earlier version (which
// moved indexed_upto without counting) has more to count than its plan:
// both count from the table as they end; reads are right meanwhile, and
// a DELETE is counted whether or not its prediction was.
func TestMergeCountsFromTable(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "counts.db"))
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "a", Duration: 5}); err != nil {
		t.Fatal(err)
	}
	bands := []lift.Band{lift.Viral, lift.High, lift.Medium, lift.Low}
	want := map[lift.Band]map[int64]int64{}
	record := func(n int) {
		for i := range n {
			clip := "a"
			p := storetest.NewPrediction(&clip)
			if i%7 == 0 {
				p.ClipID = nil
			}
			p.Band = bands[i%len(bands)]
			if err := db.RecordPrediction(ctx, p); err != nil {
				t.Fatal(err)
			}
			if want[p.Band] == nil {
				want[p.Band] = map[int64]int64{}
			}
			want[p.Band][0]++
		}
	}
	check := func(when string) {
		t.Helper()
		if got, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: PredictionCounts = %v, %v; want %v", when, got, err, want)
		}
	}
	record(3 * mergeStepRows)
	err := db.tx(ctx, func(tx *wtx) error {
		// Undo whatever the idle tick merged and counted, forget the tail
		// (so that the plan is read from the table), and merge again.
		for _, q := range []string{`UPDATE prediction_index_state SET indexed_upto = 0, merged_below = NULL, counted_upto = 0`,
			`DELETE FROM prediction_clip_index`, `DELETE FROM prediction_counts`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		db.indexedUpto, db.merge, db.tail = 0, nil, nil
		return db.mergeAll(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a merge planned from the table")
	indexed := func() (indexed, counted int64) {
		t.Helper()
		if err := db.read.QueryRowContext(ctx, `SELECT indexed_upto, counted_upto FROM prediction_index_state`).Scan(&indexed, &counted); err != nil {
			t.Fatal(err)
		}
		return indexed, counted
	}
	if i, c := indexed(); i != int64(3*mergeStepRows) || c != i {
		t.Errorf("after the merge: indexed_upto %d, counted_upto %d; want both %d", i, c, 3*mergeStepRows)
	}

	// An earlier version merges the next ones: indexed_upto moves, the
	// counts do not. (Merged here, then the counting undone.)
	record(50)
	err = db.tx(ctx, func(tx *wtx) error {
		if err := db.mergeAll(tx); err != nil {
			return err
		}
		for _, q := range []string{`INSERT INTO prediction_counts(model_version, band, n)
				SELECT 0, band, -COUNT(*) FROM predictions WHERE id > ?1 GROUP BY band
				ON CONFLICT(model_version, band) DO UPDATE SET n = n + excluded.n`,
			`UPDATE prediction_index_state SET counted_upto = ?1`} {
			if _, err := tx.ExecContext(ctx, q, 3*mergeStepRows); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after an earlier version's merge")
	// A DELETE of a counted prediction and of one not counted yet.
	var gone []lift.Band
	err = db.tx(ctx, func(tx *wtx) error {
		for _, id := range []int{1, 3*mergeStepRows + 1} {
			var band string
			if err := tx.QueryRowContext(ctx, `DELETE FROM predictions WHERE id = ? RETURNING band`, id).Scan(&band); err != nil {
				return err
			}
			gone = append(gone, lift.Band(band))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range gone {
		want[b][0]--
	}
	check("after two DELETEs")
	record(10)
	if err := db.tx(ctx, db.mergeAll); err != nil {
		t.Fatal(err)
	}
	check("after the next merge")
	if i, c := indexed(); c != i || i != int64(3*mergeStepRows+60) {
		t.Errorf("after the next merge: indexed_upto %d, counted_upto %d; want both %d", i, c, 3*mergeStepRows+60)
	}
}

// TestCountsHideUnsynced: a merge may take in predictions whose commit is
// not synced yet (the writer merges what it committed); the counts leave
// them out until the sync, as every other read does.
func TestCountsHideUnsynced(t *testing.T) {
	ctx := context.Background()
	db := mustOpenIndexEvery(t, filepath.Join(t.TempDir(), "unsynced.db"), 1)
	clip := "c"
	if _, err := db.PutClip(ctx, &lift.Clip{ID: clip, Duration: 5}); err != nil {
		t.Fatal(err)
	}
	forward := holdSyncer(db)
	done := make(chan error, 1)
	go func() { done <- db.RecordPrediction(ctx, storetest.NewPrediction(&clip)) }()
	var counted int64
	for deadline := time.Now().Add(10 * time.Second); counted == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if err := db.read.QueryRowContext(ctx, `SELECT counted_upto FROM prediction_index_state`).Scan(&counted); err != nil {
			t.Fatal(err)
		}
	}
	if counted == 0 {
		t.Fatal("the prediction was not merged while its sync waited")
	}
	select {
	case err := <-done:
		t.Fatalf("RecordPrediction returned (%v) before its sync", err)
	default:
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || len(counts) != 0 {
		t.Errorf("PredictionCounts before the sync = %v, %v; want none", counts, err)
	}
	forward()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if counts, err := db.PredictionCounts(ctx); err != nil || counts[lift.Medium][0] != 1 {
		t.Errorf("PredictionCounts after the sync = %v, %v; want 1 medium", counts, err)
	}
}

// TestMigrationCountsPredictions: migration 0012 counts the predictions
// a database already holds (those merged; reads add the tail).
func TestMigrationCountsPredictions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "before0012.db")
	db := MustOpenAt(t, path)
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "a", Duration: 5}); err != nil {
		t.Fatal(err)
	}
	want := map[lift.Band]map[int64]int64{lift.Medium: {0: 0}, lift.Viral: {0: 0}}
	record := func(n int, band lift.Band) {
		for range n {
			clip := "a"
			p := storetest.NewPrediction(&clip)
			p.Band = band
			if err := db.RecordPrediction(ctx, p); err != nil {
				t.Fatal(err)
			}
			want[band][0]++
		}
	}
	record(50, lift.Medium)
	// Merge them (the idle tick may have), record more for the tail, and
	// go back to the schema before 0012.
	if err := db.tx(ctx, db.mergeAll); err != nil {
		t.Fatal(err)
	}
	record(7, lift.Viral)
	err := db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `DROP TRIGGER predictions_counted_delete; DROP TRIGGER predictions_counted_update; DROP TABLE prediction_counts;
			ALTER TABLE prediction_index_state DROP COLUMN counted_upto;
			DELETE FROM schema_migrations WHERE name = '0012_prediction_counts.sql'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = MustOpenAt(t, path)
	if got, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PredictionCounts after the migration = %v, %v; want %v", got, err, want)
	}
}

// TestCountsFollowOtherConnections: an operator's DELETE or UPDATE from
// another connection, of predictions counted or still in the writer's
// unmerged tail, leaves the counts equal to the table's.
func TestCountsFollowOtherConnections(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "op.db")
	db := MustOpenAt(t, path)
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "a", Duration: 5}); err != nil {
		t.Fatal(err)
	}
	clip := "a"
	for range 10 {
		storetest.MustRecordPrediction(t, db, &clip)
	}
	op, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := op.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		rows, err := op.Query(`SELECT band, COALESCE(model_version, 0), COUNT(*) FROM predictions GROUP BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		want := map[lift.Band]map[int64]int64{}
		for rows.Next() {
			var band string
			var v, n int64
			if err := rows.Scan(&band, &v, &n); err != nil {
				t.Fatal(err)
			}
			want[lift.Band(band)] = map[int64]int64{v: n}
		}
		rows.Close()
		if got, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: PredictionCounts = %v, %v; the table holds %v", when, got, err, want)
		}
	}
	var counted int64
	if err := op.QueryRow(`SELECT counted_upto FROM prediction_index_state`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if counted != 0 {
		t.Log("the idle tick merged before the operator's writes: the tail case was not exercised this run")
	}
	exec(`DELETE FROM predictions WHERE id = 5`)
	exec(`UPDATE predictions SET band = 'viral' WHERE id = 6`)
	check("after writes to the tail")
	if err := db.tx(ctx, db.mergeAll); err != nil {
		t.Fatal(err)
	}
	check("after the merge")
	exec(`UPDATE predictions SET band = 'high' WHERE id <= 3`)
	exec(`DELETE FROM predictions WHERE id = 7`)
	check("after writes to counted predictions")
}

// TestMergeCountsFromMemory: a merge planned from the writer's tail
// counts from it, without reading the table (the writer's own connection
// is the only one that writes, and never changes a prediction). A change
// made to the table behind its back, on that connection, shows which one
// the merge read.
func TestMergeCountsFromMemory(t *testing.T) {
	ctx := context.Background()
	db := mustOpenIndexEvery(t, filepath.Join(t.TempDir(), "mem.db"), 1<<20)
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "a", Duration: 5}); err != nil {
		t.Fatal(err)
	}
	clip := "a"
	for range 10 {
		storetest.MustRecordPrediction(t, db, &clip)
	}
	err := db.tx(ctx, func(tx *wtx) error {
		if db.indexedUpto != 0 {
			return fmt.Errorf("the idle tick merged first (indexed up to %d)", db.indexedUpto)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE predictions SET band = 'viral' WHERE id = 3`); err != nil {
			return err
		}
		return db.mergeAll(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := db.PredictionCounts(ctx); err != nil || fmt.Sprint(got) != "map[medium:map[0:10]]" {
		t.Errorf("PredictionCounts = %v, %v; want the tail's 10 medium (the merge read the table)", got, err)
	}
}

// mergeAll runs merge steps in tx until no merge is left under way.
func (db *DB) mergeAll(tx *wtx) error {
	for {
		if done, err := db.mergeStep(tx, true); err != nil || done {
			return err
		}
	}
}
