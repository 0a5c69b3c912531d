package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"lift"
)

// TestClipFeaturesMatchClip checks the stored feature columns against
// extracting features from the stored clip, for new rows and for rows
// written before the columns existed.
func TestClipFeaturesMatchClip(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "f.db"))
	c := 0.7
	clips := []*lift.Clip{
		{ID: "full", Duration: 12, CompositeScore: &c,
			PsychologyScore: map[string]any{"composite": 0.9}, HookStrength: map[string]any{"strength": 0.2},
			NoveltyScore: map[string]any{"composite": 0.4}, EmotionData: map[string]any{"priority_score": 0.3, "has_face": "yes"}},
		{ID: "empty", Duration: 3},
		{ID: "face-false", Duration: 30, EmotionData: map[string]any{"has_face": false}},
	}
	if err := db.PutClips(ctx, clips); err != nil {
		t.Fatal(err)
	}
	// "legacy" is stored as before migration 0004: no feature columns.
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "legacy", Duration: 8, HookStrength: map[string]any{"strength": 0.1}}); err != nil {
		t.Fatal(err)
	}
	if err := db.tx(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE clips SET f_psychology = NULL, f_hook = NULL WHERE id = 'legacy'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"full", "empty", "face-false", "legacy"} {
		stored, err := db.GetClip(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.ClipFeatures(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := stored.Features(); got != want {
			t.Errorf("%s: ClipFeatures = %+v, want %+v", id, got, want)
		}
	}
	if _, err := db.ClipFeatures(ctx, "nope"); lift.KindOf(err) != lift.NotFound {
		t.Errorf("unknown clip: %v", err)
	}
}

// TestClipFeaturesSeeAnotherConnection: a clip rewritten through another
// connection to the file (another process, or a second Open) reaches this
// store's cached features within the external-write check interval.
func TestClipFeaturesSeeAnotherConnection(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	a := MustOpenAt(t, path)
	b := MustOpenAt(t, path)
	if _, err := a.PutClip(ctx, &lift.Clip{ID: "x", Duration: 10}); err != nil {
		t.Fatal(err)
	}
	if f, err := a.ClipFeatures(ctx, "x"); err != nil || f.Duration != 10 {
		t.Fatalf("ClipFeatures = %+v, %v", f, err)
	}
	if _, err := b.PutClip(ctx, &lift.Clip{ID: "x", Duration: 20}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * externalCheckInterval)
	for {
		f, err := a.ClipFeatures(ctx, "x")
		if err != nil {
			t.Fatal(err)
		}
		if f.Duration == 20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the store still serves duration %v written over by another connection", 10*externalCheckInterval, f.Duration)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOutcomeTimeInUTC: an outcome stored without a time is stamped with
// the clock's time in UTC, whatever the clock's zone, as a given time is.
func TestOutcomeTimeInUTC(t *testing.T) {
	ctx := context.Background()
	db := MustOpenAt(t, filepath.Join(t.TempDir(), "tz.db"))
	db.Now = func() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.FixedZone("JST", 9*3600)) }
	if _, err := db.PutClip(ctx, &lift.Clip{ID: "c", Duration: 5}); err != nil {
		t.Fatal(err)
	}
	o := &lift.Outcome{ClipID: "c", Impressions: 10, Clicks: 1}
	if err := db.AddOutcomes(ctx, []*lift.Outcome{o}); err != nil {
		t.Fatal(err)
	}
	if o.ObservedAt.Location() != time.UTC || !o.ObservedAt.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("observed_at = %v, want 2026-11-27T00:00:00Z", o.ObservedAt)
	}
}
