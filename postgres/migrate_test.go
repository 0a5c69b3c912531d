package postgres_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"lift"
	"lift/postgres"
	"lift/storetest"
)

// TestPredictionBatchesMigration stores predictions a row each, as Lift
// did before migration 0008, then opens the database, records new
// predictions in batches, and inserts one more as a replica of the older
// version still does during a rolling upgrade: every prediction keeps its
// id and fields, read through all_predictions and through the store, and
// ids stay unique and increasing.
func TestPredictionBatchesMigration(t *testing.T) {
	ctx := context.Background()
	dsn, conn := mustSchemaBefore0008(t)

	type row struct {
		id           int64
		clip         *string
		version      *int64
		source, band string
		ctr, conf    float64
		lo, hi       float64
		at           time.Time
	}
	a, b, v := "a", "b", int64(3)
	base := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	var old []row
	add := func(id int64, clip *string) {
		r := row{id: id, clip: clip, source: "heuristic", band: "low", ctr: float64(id) / 1000, conf: 0.25,
			lo: 0, hi: 0.5, at: base.Add(time.Duration(id) * time.Microsecond)}
		if id%2 == 0 {
			r.version, r.source, r.band = &v, "model", "medium"
		}
		old = append(old, r)
	}
	add(1, &a)
	add(2, &b)
	add(3, &a)
	add(4, nil)
	for _, r := range old {
		insertRow(t, conn, r.id, r.clip, r.version, r.source, r.ctr, r.band, r.conf, r.lo, r.hi, r.at)
	}

	db := MustOpenDSN(t, dsn)
	if _, err := db.PutClip(ctx, &lift.Clip{ID: a, Duration: 3}); err != nil {
		t.Fatal(err)
	}
	// New predictions, in batches: ten at once, then one.
	var wg sync.WaitGroup
	news := make([]*lift.Prediction, 11)
	for i := range news {
		news[i] = &lift.Prediction{ClipID: &a, Source: "heuristic", PredictedCTR: float64(i) / 100, Band: lift.Low,
			Confidence: 0.25, Interval: [2]float64{0, 1}, CreatedAt: base.Add(time.Duration(i) * time.Second)}
	}
	for _, p := range news[:10] {
		wg.Go(func() {
			if err := db.RecordPrediction(ctx, p); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// An older replica's insert, a row with an id from the identity.
	var legacy int64
	if err := conn.QueryRow(ctx, `INSERT INTO predictions(clip_id, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at)
		VALUES ('b', 'heuristic', 0.5, 'high', 0.5, 0.4, 0.6, $1) RETURNING id`, base).Scan(&legacy); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordPrediction(ctx, news[10]); err != nil {
		t.Fatal(err)
	}
	for _, p := range news {
		old = append(old, row{id: p.ID, clip: p.ClipID, source: p.Source, band: string(p.Band), ctr: p.PredictedCTR,
			conf: p.Confidence, lo: p.Interval[0], hi: p.Interval[1], at: p.CreatedAt})
	}
	old = append(old, row{id: legacy, clip: &b, source: "heuristic", band: "high", ctr: 0.5, conf: 0.5, lo: 0.4, hi: 0.6, at: base})
	slices.SortFunc(old, func(x, y row) int { return cmp.Compare(x.id, y.id) })
	firstBatch := make([]int64, 10)
	for i, p := range news[:10] {
		firstBatch[i] = p.ID
	}
	if lo, hi := slices.Min(firstBatch), slices.Max(firstBatch); lo <= 4 || legacy <= hi || news[10].ID <= legacy {
		t.Errorf("ids: legacy rows 1-4, a batch %d-%d, the older replica's %d, the last batch %d; want them increasing",
			lo, hi, legacy, news[10].ID)
	}
	for i := 1; i < len(old); i++ {
		if old[i].id == old[i-1].id {
			t.Errorf("id %d given twice", old[i].id)
		}
	}

	rows, err := conn.Query(ctx, `SELECT id, clip_id, model_version, source, band, predicted_ctr, confidence, ctr_lo, ctr_hi, created_at
		FROM all_predictions ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.clip, &x.version, &x.source, &x.band, &x.ctr, &x.conf, &x.lo, &x.hi, &x.at)
		x.at = x.at.UTC()
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	show := func(rs []row) string {
		s := ""
		for _, r := range rs {
			s += fmt.Sprintf("%d %v %v %s %s %g %g %g %g %s\n", r.id, deref(r.clip), deref(r.version), r.source, r.band, r.ctr, r.conf, r.lo, r.hi, r.at.Format(time.RFC3339Nano))
		}
		return s
	}
	if show(got) != show(old) {
		t.Errorf("all_predictions:\n%s\nwant\n%s", show(got), show(old))
	}

	ps, err := db.ClipPredictions(ctx, a, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	var want []int64
	for _, r := range slices.Backward(old) {
		if r.clip != nil && *r.clip == a {
			want = append(want, r.id)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ClipPredictions(a) ids = %v, want %v", ids, want)
	}
	if p := ps[len(ps)-1]; p.ID != 1 || p.Source != "heuristic" || p.Band != lift.Low || p.PredictedCTR != 0.001 || !p.CreatedAt.Equal(old[0].at) {
		t.Errorf("prediction 1 = %+v", p)
	}
	if ps, err := db.ClipPredictions(ctx, a, 3); err != nil || len(ps) != 3 || ps[0].ID != want[0] || ps[1].ID != want[1] || ps[2].ID != want[2] {
		t.Errorf("ClipPredictions(a, 3) = %v, %v; want ids %v", ps, err, want[:3])
	}
	counts, err := db.PredictionCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts[lift.Low][0] != 2+11 || counts[lift.Medium][v] != 2 || counts[lift.High][0] != 1 {
		t.Errorf("PredictionCounts = %v, want 13 low and 1 high heuristic, 2 medium of model 3", counts)
	}
	storetest.MustAddOutcome(t, db, a, 100, 3)
	if n, err := db.CountPredictionsWithActual(ctx, a); err != nil || n != 2+11 {
		t.Errorf("CountPredictionsWithActual(a) = %d, %v; want 13", n, err)
	}
}

// mustSchemaBefore0008 makes a new database with the schema before
// migration 0008 (a prediction a row) and returns its DSN and a
// connection to it, closed when the test ends.
func mustSchemaBefore0008(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.MustPostgresDSN(t)
	if err := postgres.MigrateThrough(ctx, dsn, "0007_model_activations.sql"); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return dsn, conn
}

// insertRow inserts one prediction row as Lift did before migration 0008,
// its id from the identity, and checks it is the id given.
func insertRow(t *testing.T, conn *pgx.Conn, id int64, args ...any) {
	t.Helper()
	var got int64
	if err := conn.QueryRow(context.Background(), `INSERT INTO predictions(clip_id, model_version, source, predicted_ctr, band,
		confidence, ctr_lo, ctr_hi, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, args...).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != id {
		t.Fatalf("the identity gave id %d, want %d", got, id)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestPruneInChunks: a prune walks more rows than one chunk, in both the
// table of rows stored a prediction each and the batches, and deletes
// exactly those older than the cut.
func TestPruneInChunks(t *testing.T) {
	ctx := context.Background()
	dsn, conn := mustSchemaBefore0008(t)
	cut := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old, newer := cut.Add(-time.Hour), cut.Add(time.Hour)
	n := 2*lift.PruneChunk + 17
	// Rows as Lift stored them before migration 0008: old ones, then a
	// few newer, then old ones again (ids do not follow times exactly).
	for _, r := range []struct {
		n  int
		at time.Time
	}{{n, old}, {5, newer}, {3, old}} {
		if _, err := conn.Exec(ctx, `INSERT INTO predictions(clip_id, source, predicted_ctr, band, confidence, ctr_lo, ctr_hi, created_at)
			SELECT NULL, 'heuristic', 0.1, 'low', 0.25, 0, 1, $2 FROM generate_series(1, $1)`, r.n, r.at); err != nil {
			t.Fatal(err)
		}
	}
	db := MustOpenDSN(t, dsn)
	// Batches of two predictions, written as RecordPrediction does.
	for _, r := range []struct {
		n  int
		at time.Time
	}{{n, old}, {7, newer}} {
		if _, err := conn.Exec(ctx, `INSERT INTO prediction_batches(first_id, clip_ids, model_versions, sources, bands,
				predicted_ctrs, confidences, ctr_los, ctr_his, created_ats)
			SELECT nextval(pg_get_serial_sequence('predictions', 'id')), ARRAY[NULL, NULL]::text[], ARRAY[NULL, NULL]::bigint[],
				ARRAY['heuristic', 'heuristic'], ARRAY['low', 'low'], ARRAY[0.1, 0.1], ARRAY[0.25, 0.25], ARRAY[0, 0]::float8[],
				ARRAY[1, 1]::float8[], ARRAY[$2, $2]::timestamptz[]
			FROM generate_series(1, $1)`, r.n, r.at); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := db.PrunePredictions(ctx, cut)
	if want := int64(n + 3 + 2*n); err != nil || deleted != want {
		t.Fatalf("PrunePredictions = %d, %v; want %d", deleted, err, want)
	}
	var rows, older int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE created_at < $1) FROM all_predictions`, cut).Scan(&rows, &older); err != nil {
		t.Fatal(err)
	}
	if rows != 5+2*7 || older != 0 {
		t.Errorf("after the prune %d predictions are left, %d of them older than the cut; want 19 and 0", rows, older)
	}
}
