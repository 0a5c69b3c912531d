package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
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
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "m.db"))
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
