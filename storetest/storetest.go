// Package storetest is the conformance suite that every Lift store (SQLite,
// PostgreSQL) must pass, so that the commands and the HTTP API behave the
// same whichever database holds the state.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"lift"
)

// Store is what the suite exercises: the four store interfaces the
// commands use, plus the two helpers both stores have for operators and
// tests.
type Store interface {
	lift.ClipStore
	lift.PredictionStore
	lift.ModelStore
	lift.Locker
	lift.ExperimentStore
	lift.PredictionPruner
	lift.ExperimentLogPruner
	// ExpireLocks ends every lease now.
	ExpireLocks(ctx context.Context) error
	// CountPredictionsWithActual counts a clip's predictions whose
	// actual_ctr is filled in.
	CountPredictionsWithActual(ctx context.Context, clipID string) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// Run runs the whole suite. open must return a new, empty, migrated store
// for each call (and close it when the test ends).
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s Store)
	}{
		{"PutClipNewAndReplace", testPutClipNewAndReplace},
		{"GetClipNotFound", testGetClipNotFound},
		{"ListClipsPagination", testListClipsPagination},
		{"InvalidClipsWriteNothing", testInvalidClipsWriteNothing},
		{"NegativeZeros", testNegativeZeros},
		{"Outcomes", testOutcomes},
		{"OutcomesAllOrNothing", testOutcomesAllOrNothing},
		{"OutcomeKeys", testOutcomeKeys},
		{"Predictions", testPredictions},
		{"PredictionsConcurrent", testPredictionsConcurrent},
		{"PrunePredictions", testPrunePredictions},
		{"PredictionCounts", testPredictionCounts},
		{"RewardsConcurrent", testRewardsConcurrent},
		{"DecisionsConcurrent", testDecisionsConcurrent},
		{"ClipFeaturesFollowWrites", testClipFeaturesFollowWrites},
		{"ModelRegistry", testModelRegistry},
		{"ActivateExactlyOne", testActivateExactlyOne},
		{"ActivateModelIf", testActivateModelIf},
		{"Lock", testLock},
		{"Experiments", runExperiments},
		{"PruneExperimentLog", testPruneExperimentLog},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			tt.f(t, s)
		})
	}
}

// NewClip returns a valid clip with the given id and duration and every
// JSON field set.
func NewClip(id string, duration float64) *lift.Clip {
	composite := 0.7
	return &lift.Clip{
		ID:              id,
		PsychologyScore: map[string]any{"composite": 0.6, "curiosity": map[string]any{"gap": 0.25}},
		HookStrength:    map[string]any{"strength": 0.8, "type": "question"},
		NoveltyScore:    map[string]any{"composite": 0.4},
		EmotionData:     map[string]any{"priority_score": 0.9, "has_face": true, "emotions": []any{"joy", "surprise"}},
		Duration:        duration,
		CompositeScore:  &composite,
	}
}

// MustPutClip stores c and fails the test on an error.
func MustPutClip(tb testing.TB, s lift.ClipStore, c *lift.Clip) bool {
	tb.Helper()
	created, err := s.PutClip(context.Background(), c)
	if err != nil {
		tb.Fatalf("PutClip(%q): %v", c.ID, err)
	}
	return created
}

// MustGetClip returns the stored clip and fails the test on an error.
func MustGetClip(tb testing.TB, s lift.ClipStore, id string) *lift.Clip {
	tb.Helper()
	c, err := s.GetClip(context.Background(), id)
	if err != nil {
		tb.Fatalf("GetClip(%q): %v", id, err)
	}
	return c
}

// MustAddOutcome records one outcome and fails the test on an error.
func MustAddOutcome(tb testing.TB, s lift.ClipStore, clipID string, impressions, clicks int64) {
	tb.Helper()
	if err := s.AddOutcomes(context.Background(), []*lift.Outcome{{ClipID: clipID, Impressions: impressions, Clicks: clicks}}); err != nil {
		tb.Fatalf("AddOutcomes(%q, %d, %d): %v", clipID, impressions, clicks, err)
	}
}

// NewPrediction is a valid prediction for clipID (nil: inline features),
// not yet recorded.
func NewPrediction(clipID *string) *lift.Prediction {
	return &lift.Prediction{ClipID: clipID, PredictedCTR: 0.04, Band: lift.Medium, Confidence: 0.6,
		Interval: [2]float64{0.02, 0.07}, Source: "heuristic"}
}

// MustRecordPrediction records a model prediction for clipID (nil for
// inline features) and returns it.
func MustRecordPrediction(tb testing.TB, s lift.PredictionStore, clipID *string) *lift.Prediction {
	tb.Helper()
	p := NewPrediction(clipID)
	if err := s.RecordPrediction(context.Background(), p); err != nil {
		tb.Fatalf("RecordPrediction: %v", err)
	}
	return p
}

// MustCreateModel registers a model whose JSON is body.
func MustCreateModel(tb testing.TB, s lift.ModelStore, body string, activate bool) *lift.ModelVersion {
	tb.Helper()
	m := &lift.ModelVersion{Source: "trained", Objective: "reg:logistic",
		Params: map[string]any{"eta": 0.1, "max_depth": float64(4)}, TrainingRows: 80, HoldoutRows: 20,
		Note: "note " + body, Model: []byte(body)}
	if err := s.CreateModel(context.Background(), m, activate); err != nil {
		tb.Fatalf("CreateModel: %v", err)
	}
	return m
}

// wantKind fails unless err has the given kind.
func wantKind(tb testing.TB, what string, err error, kind lift.Kind) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: no error, want %s", what, kind)
	}
	if got := lift.KindOf(err); got != kind {
		tb.Fatalf("%s: error %q has kind %s, want %s", what, err, got, kind)
	}
}

func testPutClipNewAndReplace(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	c := NewClip("clip-1", 12.5)
	if created := MustPutClip(t, s, c); !created {
		t.Fatal("first PutClip reported replaced, want created")
	}
	got := MustGetClip(t, s, "clip-1")
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"psychology_score", got.PsychologyScore, c.PsychologyScore},
		{"hook_strength", got.HookStrength, c.HookStrength},
		{"novelty_score", got.NoveltyScore, c.NoveltyScore},
		{"emotion_data", got.EmotionData, c.EmotionData},
		{"duration", got.Duration, c.Duration},
		{"composite_score", *got.CompositeScore, *c.CompositeScore},
		{"features", got.Features(), c.Features()},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("%s = %#v, want %#v", f.name, f.got, f.want)
		}
	}
	if got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("created_at = %v, want about now", got.CreatedAt)
	}
	MustAddOutcome(t, s, "clip-1", 100, 7)

	// Replacing keeps the outcomes and created_at, clears absent fields.
	r := &lift.Clip{ID: "clip-1", Duration: 30, EmotionData: map[string]any{"priority_score": 0.1}}
	if created := MustPutClip(t, s, r); created {
		t.Fatal("second PutClip reported created, want replaced")
	}
	got2 := MustGetClip(t, s, "clip-1")
	if got2.Duration != 30 || got2.CompositeScore != nil || got2.PsychologyScore != nil || got2.EmotionData["priority_score"] != 0.1 {
		t.Errorf("replaced clip = %+v, want duration 30, no composite, no psychology_score, priority 0.1", got2)
	}
	if got2.Impressions != 100 || got2.Clicks != 7 {
		t.Errorf("after replace impressions/clicks = %d/%d, want 100/7 kept", got2.Impressions, got2.Clicks)
	}
	if !got2.CreatedAt.Equal(got.CreatedAt) {
		t.Errorf("created_at changed on replace: %v -> %v", got.CreatedAt, got2.CreatedAt)
	}
	if got2.UpdatedAt.Before(got.UpdatedAt) {
		t.Errorf("updated_at went back on replace: %v -> %v", got.UpdatedAt, got2.UpdatedAt)
	}

	// PutClips inserts and replaces in one call.
	if err := s.PutClips(ctx, []*lift.Clip{NewClip("clip-1", 5), NewClip("clip-2", 6)}); err != nil {
		t.Fatalf("PutClips: %v", err)
	}
	if d := MustGetClip(t, s, "clip-1").Duration; d != 5 {
		t.Errorf("clip-1 duration after PutClips = %g, want 5", d)
	}
	if d := MustGetClip(t, s, "clip-2").Duration; d != 6 {
		t.Errorf("clip-2 duration after PutClips = %g, want 6", d)
	}
}

// testNegativeZeros: a -0 anywhere in a clip reads back as 0, through
// PutClip and PutClips alike (SQLite and PostgreSQL each kept the sign in
// some places and dropped it in others).
func testNegativeZeros(t *testing.T, s Store) {
	ctx := context.Background()
	negZero := math.Copysign(0, -1)
	clip := func(id string) *lift.Clip {
		cs := negZero
		return &lift.Clip{ID: id, Duration: negZero, CompositeScore: &cs,
			PsychologyScore: map[string]any{"composite": negZero, "parts": []any{negZero, 1.0}},
			HookStrength:    map[string]any{"strength": negZero, "nested": map[string]any{"x": negZero}}}
	}
	MustPutClip(t, s, clip("z1"))
	if err := s.PutClips(ctx, []*lift.Clip{clip("z2")}); err != nil {
		t.Fatalf("PutClips: %v", err)
	}
	for _, id := range []string{"z1", "z2"} {
		got := MustGetClip(t, s, id)
		nums := []float64{got.Duration, *got.CompositeScore}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case float64:
				nums = append(nums, v)
			case map[string]any:
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(got.PsychologyScore)
		walk(got.HookStrength)
		if len(nums) != 7 {
			t.Fatalf("%s: read back %d numbers, want 7: %+v", id, len(nums), got)
		}
		for _, x := range nums {
			if x == 0 && math.Signbit(x) {
				t.Errorf("%s: a -0 read back as -0: duration %v, composite %v, %+v %+v", id,
					got.Duration, *got.CompositeScore, got.PsychologyScore, got.HookStrength)
				break
			}
		}
		if got.Duration != 0 || got.PsychologyScore["parts"].([]any)[1] != 1.0 {
			t.Errorf("%s: values changed: %+v", id, got)
		}
	}
}

func testGetClipNotFound(t *testing.T, s Store) {
	MustPutClip(t, s, NewClip("present", 1))
	for _, id := range []string{"absent", "Present", "present "} {
		_, err := s.GetClip(context.Background(), id)
		wantKind(t, fmt.Sprintf("GetClip(%q)", id), err, lift.NotFound)
	}
}

func testListClipsPagination(t *testing.T, s Store) {
	ctx := context.Background()
	// Byte order, not a locale's: "Z" < "a", "a10" < "a2", "é" after "z".
	ids := []string{"a2", "Z1", "a10", "b", "a1", "é", "z", "A"}
	for _, id := range ids {
		MustPutClip(t, s, NewClip(id, 1))
	}
	want := append([]string(nil), ids...)
	sort.Strings(want)

	for _, limit := range []int{1, 3, len(ids), len(ids) + 5} {
		t.Run(fmt.Sprintf("limit=%d", limit), func(t *testing.T) {
			var got []string
			after := ""
			for page := 0; ; page++ {
				if page > len(ids) {
					t.Fatalf("more than %d pages", len(ids))
				}
				cs, next, err := s.ListClips(ctx, after, limit)
				if err != nil {
					t.Fatalf("ListClips(%q, %d): %v", after, limit, err)
				}
				if len(cs) > limit {
					t.Fatalf("ListClips(%q, %d) returned %d clips", after, limit, len(cs))
				}
				for _, c := range cs {
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				if next != cs[len(cs)-1].ID {
					t.Fatalf("next = %q, want the last id of the page %q", next, cs[len(cs)-1].ID)
				}
				after = next
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("pages = %q, want %q", got, want)
			}
		})
	}
	cs, next, err := s.ListClips(ctx, want[len(want)-1], 10)
	if err != nil || len(cs) != 0 || next != "" {
		t.Errorf("ListClips past the end = %d clips, next %q, err %v; want none", len(cs), next, err)
	}
}

func testInvalidClipsWriteNothing(t *testing.T, s Store) {
	ctx := context.Background()
	bad := func(mutate func(c *lift.Clip)) *lift.Clip {
		c := NewClip("bad", 1)
		mutate(c)
		return c
	}
	tests := []struct {
		name string
		c    *lift.Clip
	}{
		{"empty id", bad(func(c *lift.Clip) { c.ID = "" })},
		{"control character in id", bad(func(c *lift.Clip) { c.ID = "a\x00b" })},
		{"negative duration", bad(func(c *lift.Clip) { c.Duration = -1 })},
		{"NaN duration", bad(func(c *lift.Clip) { c.Duration = math.NaN() })},
		{"composite above 1", bad(func(c *lift.Clip) { v := 1.5; c.CompositeScore = &v })},
		{"string hook strength", bad(func(c *lift.Clip) { c.HookStrength = map[string]any{"strength": "high"} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutClip(ctx, tt.c)
			wantKind(t, "PutClip", err, lift.Invalid)
			// The same clip in a batch with a valid one: neither is stored.
			err = s.PutClips(ctx, []*lift.Clip{NewClip("good", 2), tt.c})
			wantKind(t, "PutClips", err, lift.Invalid)
			cs, _, err := s.ListClips(ctx, "", 10)
			if err != nil {
				t.Fatalf("ListClips: %v", err)
			}
			if len(cs) != 0 {
				t.Fatalf("after rejected writes %d clips are stored, want 0", len(cs))
			}
		})
	}
}

func testOutcomes(t *testing.T, s Store) {
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3"} {
		MustPutClip(t, s, NewClip(id, 10))
	}
	if n, err := s.CountClipsWithOutcomes(ctx); err != nil || n != 0 {
		t.Fatalf("CountClipsWithOutcomes before outcomes = %d, %v; want 0", n, err)
	}
	c1 := "c1"
	early := MustRecordPrediction(t, s, &c1)
	if n, err := s.CountPredictionsWithActual(ctx, "c1"); err != nil || n != 0 {
		t.Fatalf("predictions with actual before outcomes = %d, %v; want 0", n, err)
	}

	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	os := []*lift.Outcome{
		{ClipID: "c1", Impressions: 100, Clicks: 5, ObservedAt: at},
		{ClipID: "c3", Impressions: 40, Clicks: 0},
		{ClipID: "c1", Impressions: 300, Clicks: 15},
	}
	if err := s.AddOutcomes(ctx, os); err != nil {
		t.Fatalf("AddOutcomes: %v", err)
	}
	seen := map[int64]bool{}
	for i, o := range os {
		if o.ID == 0 || seen[o.ID] {
			t.Errorf("outcome %d got id %d, want a new non-zero id", i, o.ID)
		}
		seen[o.ID] = true
		if o.ObservedAt.IsZero() {
			t.Errorf("outcome %d: observed_at not filled in", i)
		}
	}
	// Microseconds, as both databases keep times (PostgreSQL can hold
	// no finer; SQLite's text could).
	if !os[0].ObservedAt.Equal(lift.StoredTime(at)) {
		t.Errorf("observed_at %v given by the caller is stored as %v, want %v", at, os[0].ObservedAt, lift.StoredTime(at))
	}

	tests := []struct {
		id                  string
		impressions, clicks int64
		ctr                 float64
		hasCTR              bool
	}{
		{"c1", 400, 20, 0.05, true},
		{"c2", 0, 0, 0, false},
		{"c3", 40, 0, 0, true},
	}
	for _, tt := range tests {
		c := MustGetClip(t, s, tt.id)
		ctr, ok := c.ActualCTR()
		if c.Impressions != tt.impressions || c.Clicks != tt.clicks || ok != tt.hasCTR || math.Abs(ctr-tt.ctr) > 1e-12 {
			t.Errorf("%s: impressions/clicks = %d/%d (ctr %g, %v), want %d/%d (ctr %g, %v)",
				tt.id, c.Impressions, c.Clicks, ctr, ok, tt.impressions, tt.clicks, tt.ctr, tt.hasCTR)
		}
	}

	// The prediction made before the outcomes now has its actual CTR, and
	// one made after them has it from the start.
	if n, err := s.CountPredictionsWithActual(ctx, "c1"); err != nil || n != 1 {
		t.Errorf("predictions of c1 with actual after outcomes = %d, %v; want 1 (prediction %d)", n, err, early.ID)
	}
	MustRecordPrediction(t, s, &c1)
	if n, err := s.CountPredictionsWithActual(ctx, "c1"); err != nil || n != 2 {
		t.Errorf("predictions of c1 with actual = %d, %v; want 2", n, err)
	}
	c2 := "c2"
	MustRecordPrediction(t, s, &c2)
	if n, err := s.CountPredictionsWithActual(ctx, "c2"); err != nil || n != 0 {
		t.Errorf("predictions of c2 (no outcomes) with actual = %d, %v; want 0", n, err)
	}

	if n, err := s.CountClipsWithOutcomes(ctx); err != nil || n != 2 {
		t.Errorf("CountClipsWithOutcomes = %d, %v; want 2", n, err)
	}
	cs, err := s.ClipsWithOutcomes(ctx)
	if err != nil {
		t.Fatalf("ClipsWithOutcomes: %v", err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if !reflect.DeepEqual(ids, []string{"c1", "c3"}) {
		t.Errorf("ClipsWithOutcomes = %q, want [c1 c3]", ids)
	}
}

func testOutcomesAllOrNothing(t *testing.T, s Store) {
	ctx := context.Background()
	MustPutClip(t, s, NewClip("known", 10))
	MustAddOutcome(t, s, "known", 10, 1)
	known := "known"
	MustRecordPrediction(t, s, &known)

	tests := []struct {
		name string
		os   []*lift.Outcome
		kind lift.Kind
	}{
		{"unknown clip after a good outcome", []*lift.Outcome{
			{ClipID: "known", Impressions: 50, Clicks: 50}, {ClipID: "unknown", Impressions: 1, Clicks: 0}}, lift.NotFound},
		{"clicks above impressions", []*lift.Outcome{
			{ClipID: "known", Impressions: 50, Clicks: 50}, {ClipID: "known", Impressions: 1, Clicks: 2}}, lift.Invalid},
		{"negative clicks", []*lift.Outcome{{ClipID: "known", Impressions: 5, Clicks: -1}}, lift.Invalid},
		{"zero impressions", []*lift.Outcome{{ClipID: "known", Impressions: 0, Clicks: 0}}, lift.Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddOutcomes(ctx, tt.os)
			wantKind(t, "AddOutcomes", err, tt.kind)
			c := MustGetClip(t, s, "known")
			if c.Impressions != 10 || c.Clicks != 1 {
				t.Errorf("after a rejected batch impressions/clicks = %d/%d, want 10/1 unchanged", c.Impressions, c.Clicks)
			}
			if n, err := s.CountClipsWithOutcomes(ctx); err != nil || n != 1 {
				t.Errorf("CountClipsWithOutcomes = %d, %v; want 1", n, err)
			}
		})
	}
	if _, err := s.GetClip(ctx, "unknown"); lift.KindOf(err) != lift.NotFound {
		t.Errorf("GetClip(unknown) after rejected outcome: %v, want NotFound", err)
	}
}

// testOutcomeKeys: an outcome with a key (the client's outcome_id) is
// stored and counted once per clip: the same key again, with the same
// counts, is the stored outcome (Repeated, its id and time), in another
// batch or the same one; with other counts, or another observed_at given,
// it is Conflict and the batch writes nothing. Keys are per clip, and
// outcomes without one are never taken for each other.
func testOutcomeKeys(t *testing.T, s Store) {
	ctx := context.Background()
	MustPutClip(t, s, NewClip("a", 10))
	MustPutClip(t, s, NewClip("b", 10))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	first := &lift.Outcome{ClipID: "a", Key: "k1", Impressions: 100, Clicks: 7, ObservedAt: at}
	if err := s.AddOutcomes(ctx, []*lift.Outcome{first}); err != nil || first.Repeated {
		t.Fatalf("first: %v, repeated %v", err, first.Repeated)
	}
	totals := func(id string) [2]int64 {
		c := MustGetClip(t, s, id)
		return [2]int64{c.Impressions, c.Clicks}
	}
	// Again, without observed_at (a retry that left it to the server),
	// and twice more in one batch with an outcome of the same key for b.
	again := &lift.Outcome{ClipID: "a", Key: "k1", Impressions: 100, Clicks: 7}
	twice := &lift.Outcome{ClipID: "a", Key: "k1", Impressions: 100, Clicks: 7, ObservedAt: at}
	forB := &lift.Outcome{ClipID: "b", Key: "k1", Impressions: 5, Clicks: 1}
	if err := s.AddOutcomes(ctx, []*lift.Outcome{again, forB, twice}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*lift.Outcome{again, twice} {
		if !o.Repeated || o.ID != first.ID || !o.ObservedAt.Equal(at) {
			t.Errorf("repeat: repeated %v, id %d (want %d), observed %v (want %v)", o.Repeated, o.ID, first.ID, o.ObservedAt, at)
		}
	}
	if forB.Repeated || forB.ID == first.ID {
		t.Errorf("the same key for another clip was taken for a's outcome")
	}
	if got := totals("a"); got != [2]int64{100, 7} {
		t.Errorf("a's totals %v after repeats, want [100 7]", got)
	}
	// The same key within one new batch: the second is the first's repeat.
	x, y := &lift.Outcome{ClipID: "b", Key: "k2", Impressions: 3, Clicks: 0}, &lift.Outcome{ClipID: "b", Key: "k2", Impressions: 3, Clicks: 0}
	if err := s.AddOutcomes(ctx, []*lift.Outcome{x, y}); err != nil || x.Repeated || !y.Repeated || y.ID != x.ID {
		t.Errorf("a key twice in a batch: %v; repeated %v/%v, ids %d/%d", err, x.Repeated, y.Repeated, x.ID, y.ID)
	}
	if got := totals("b"); got != [2]int64{8, 1} {
		t.Errorf("b's totals %v, want [8 1]", got)
	}
	// Conflicts write nothing, the batch's other outcomes included.
	for _, bad := range []*lift.Outcome{
		{ClipID: "a", Key: "k1", Impressions: 100, Clicks: 8},
		{ClipID: "a", Key: "k1", Impressions: 100, Clicks: 7, ObservedAt: at.Add(time.Second)},
	} {
		ok := &lift.Outcome{ClipID: "a", Impressions: 50, Clicks: 1}
		err := s.AddOutcomes(ctx, []*lift.Outcome{ok, bad})
		wantKind(t, "AddOutcomes(conflicting key)", err, lift.Conflict)
		if got := totals("a"); got != [2]int64{100, 7} {
			t.Errorf("a's totals %v after a conflict, want [100 7]", got)
		}
	}
	// Without keys, equal outcomes are distinct.
	n1, n2 := &lift.Outcome{ClipID: "a", Impressions: 10, Clicks: 1}, &lift.Outcome{ClipID: "a", Impressions: 10, Clicks: 1}
	if err := s.AddOutcomes(ctx, []*lift.Outcome{n1, n2}); err != nil || n1.Repeated || n2.Repeated || n1.ID == n2.ID {
		t.Errorf("keyless outcomes: %v, repeated %v/%v, ids %d/%d", err, n1.Repeated, n2.Repeated, n1.ID, n2.ID)
	}
	if got := totals("a"); got != [2]int64{120, 9} {
		t.Errorf("a's totals %v, want [120 9]", got)
	}
	wantKind(t, "AddOutcomes(a key with a control character)", s.AddOutcomes(ctx, []*lift.Outcome{{ClipID: "a", Key: "a\x00b", Impressions: 1}}), lift.Invalid)
}

func testPredictions(t *testing.T, s Store) {
	ctx := context.Background()
	MustPutClip(t, s, NewClip("p1", 10))
	p1 := "p1"
	a := MustRecordPrediction(t, s, &p1)
	b := MustRecordPrediction(t, s, nil)
	if a.ID == 0 || b.ID <= a.ID {
		t.Errorf("prediction ids %d, %d: want positive and increasing", a.ID, b.ID)
	}
	if a.CreatedAt.IsZero() {
		t.Error("created_at not filled in")
	}
	v := int64(7)
	at := time.Date(2026, 11, 27, 12, 30, 0, 123456789, time.FixedZone("+05:30", 5*3600+1800))
	withModel := &lift.Prediction{ClipID: &p1, PredictedCTR: 0.09, Band: lift.Viral, Confidence: 0.8,
		Interval: [2]float64{0.05, 0.12}, ModelVersion: &v, Source: "model", CreatedAt: at}
	if err := s.RecordPrediction(ctx, withModel); err != nil {
		t.Fatalf("RecordPrediction with a model version: %v", err)
	}
	// The recorded time is answered as it is kept, in UTC to the
	// microsecond, so the answer to POST /predict/ctr and a later read of
	// the clip's predictions agree.
	if want := "2026-11-27T07:00:00.123456Z"; withModel.CreatedAt.Format(time.RFC3339Nano) != want {
		t.Errorf("recorded created_at = %s, want %s", withModel.CreatedAt.Format(time.RFC3339Nano), want)
	}
	if d, ok := s.(interface {
		ClipPredictions(ctx context.Context, clipID string, limit int) ([]*lift.Prediction, error)
	}); !ok {
		t.Errorf("%T does not read a clip's predictions", s)
	} else if ps, err := d.ClipPredictions(ctx, p1, 1); err != nil || len(ps) != 1 || ps[0].ID != withModel.ID {
		t.Errorf("ClipPredictions(p1, 1) = %v, %v; want prediction %d", ps, err, withModel.ID)
	} else if got := ps[0].CreatedAt.Format(time.RFC3339Nano); got != withModel.CreatedAt.Format(time.RFC3339Nano) {
		t.Errorf("created_at read back %s, answered %s", got, withModel.CreatedAt.Format(time.RFC3339Nano))
	}

	unknown := "no-such-clip"
	err := s.RecordPrediction(ctx, &lift.Prediction{ClipID: &unknown, PredictedCTR: 0.04, Band: lift.Medium, Confidence: 0.5,
		Interval: [2]float64{0, 1}, Source: "heuristic"})
	wantKind(t, "RecordPrediction for an unknown clip", err, lift.NotFound)

	for _, bad := range []float64{math.NaN(), -0.1, 1.1} {
		err := s.RecordPrediction(ctx, &lift.Prediction{ClipID: &p1, PredictedCTR: bad, Band: lift.Low, Confidence: 0.5,
			Interval: [2]float64{0, 1}, Source: "model"})
		if err == nil {
			t.Errorf("RecordPrediction(predicted_ctr %v) succeeded, want an error", bad)
		}
	}
	// Nothing of the rejected ones was stored: the next id follows on.
	c := MustRecordPrediction(t, s, nil)
	if c.ID <= withModel.ID {
		t.Errorf("prediction id %d after %d", c.ID, withModel.ID)
	}
	MustAddOutcome(t, s, "p1", 10, 1)
	if n, err := s.CountPredictionsWithActual(ctx, "p1"); err != nil || n != 2 {
		t.Errorf("predictions of p1 with actual = %d, %v; want 2 (the rejected ones must not be stored)", n, err)
	}
}

// testPredictionCounts: the counts by band and model version (the
// dashboard's summary, kept as predictions come and go) follow every
// prediction recorded, by several callers at once, with and without a
// clip, and every one pruned. SQLite counts some in its table and some in
// the tail it has not merged yet: the checks run before and after its
// merge (a second without writes).
func testPredictionCounts(t *testing.T, s Store) {
	ctx := context.Background()
	d, ok := s.(interface {
		PredictionCounts(ctx context.Context) (map[lift.Band]map[int64]int64, error)
	})
	if !ok {
		t.Fatalf("%T does not count predictions", s)
	}
	MustPutClip(t, s, NewClip("pc", 10))
	clip := "pc"
	v := MustCreateModel(t, s, `{"learner":1}`, false).Version
	bands := []lift.Band{lift.Viral, lift.High, lift.Medium, lift.Low}
	want := map[lift.Band]map[int64]int64{}
	var mu sync.Mutex
	record := func(p *lift.Prediction, i int) error {
		p.Band = bands[i%len(bands)]
		var version int64
		if i%3 != 0 {
			p.ModelVersion, p.Source, version = &v, "model", v
		}
		if err := s.RecordPrediction(ctx, p); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if want[p.Band] == nil {
			want[p.Band] = map[int64]int64{}
		}
		want[p.Band][version]++
		return nil
	}
	check := func(when string) {
		t.Helper()
		got, err := d.PredictionCounts(ctx)
		if err != nil {
			t.Fatalf("%s: PredictionCounts: %v", when, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: PredictionCounts = %v, want %v", when, got, want)
		}
	}
	check("before any prediction")
	// Predictions made long ago, one at a time (so that each is a batch
	// of its own, which PostgreSQL prunes whole), pruned below; SQLite
	// keeps its newest prediction, which the others after them are.
	cut := time.Now().Add(-24 * time.Hour)
	for i := range 7 {
		p := NewPrediction(&clip)
		p.CreatedAt = cut.Add(-time.Hour)
		if err := record(p, i); err != nil {
			t.Fatalf("RecordPrediction: %v", err)
		}
	}
	check("after the old ones")
	old := map[lift.Band]map[int64]int64{}
	for band, byVersion := range want {
		old[band] = maps.Clone(byVersion)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 60 {
				p := NewPrediction(&clip)
				if (w+i)%4 == 0 {
					p.ClipID = nil // from inline features
				}
				if err := record(p, w+i); err != nil {
					t.Errorf("RecordPrediction: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	check("after recording")
	time.Sleep(2500 * time.Millisecond)
	check("after a pause")

	var pruned int64
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(2500 * time.Millisecond) {
		n, err := s.PrunePredictions(ctx, cut)
		if err != nil {
			t.Fatalf("PrunePredictions: %v", err)
		}
		if pruned += n; pruned >= 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pruned %d predictions in 15 s, want the 7 old ones", pruned)
		}
	}
	for band, byVersion := range old {
		for version, n := range byVersion {
			if want[band][version] -= n; want[band][version] == 0 {
				delete(want[band], version)
			}
		}
		if len(want[band]) == 0 {
			delete(want, band)
		}
	}
	check("after the prune")
}

// testPrunePredictions: predictions made before the cut go, with what
// reads see of them (a clip's list, the counts by band); newer ones and
// the clip stay. SQLite prunes a prediction once its per-clip index has
// it, which a store merges after a second without writes: the test
// retries, with pauses longer than that (a prune that deletes nothing is
// a write too).
func testPrunePredictions(t *testing.T, s Store) {
	ctx := context.Background()
	MustPutClip(t, s, NewClip("pr", 10))
	clip := "pr"
	cut := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	record := func(at time.Time, clipID *string) *lift.Prediction {
		p := NewPrediction(clipID)
		p.CreatedAt = at
		if err := s.RecordPrediction(ctx, p); err != nil {
			t.Fatalf("RecordPrediction: %v", err)
		}
		return p
	}
	for i := range 5 {
		record(cut.Add(-time.Duration(i+1)*time.Hour), &clip)
	}
	record(cut.Add(-time.Minute), nil) // from inline features
	var kept []*lift.Prediction
	for i := range 3 {
		kept = append(kept, record(cut.Add(time.Duration(i)*time.Second), &clip))
	}
	deadline := time.Now().Add(15 * time.Second)
	var pruned int64
	for pruned < 6 {
		n, err := s.PrunePredictions(ctx, cut)
		if err != nil {
			t.Fatalf("PrunePredictions: %v", err)
		}
		pruned += n
		if pruned < 6 {
			if time.Now().After(deadline) {
				t.Fatalf("pruned %d predictions in 15 s, want the 6 before the cut", pruned)
			}
			time.Sleep(2500 * time.Millisecond)
		}
	}
	if pruned != 6 {
		t.Errorf("pruned %d predictions, want 6", pruned)
	}
	if n, err := s.PrunePredictions(ctx, cut); err != nil || n != 0 {
		t.Errorf("a second prune = %d, %v; want 0", n, err)
	}
	d, ok := s.(interface {
		ClipPredictions(ctx context.Context, clipID string, limit int) ([]*lift.Prediction, error)
		PredictionCounts(ctx context.Context) (map[lift.Band]map[int64]int64, error)
	})
	if !ok {
		t.Fatalf("%T does not read predictions", s)
	}
	ps, err := d.ClipPredictions(ctx, clip, 50)
	if err != nil || len(ps) != 3 {
		t.Fatalf("ClipPredictions after the prune = %d predictions, %v; want the 3 after the cut", len(ps), err)
	}
	for i, p := range ps {
		if want := kept[2-i].ID; p.ID != want {
			t.Errorf("kept prediction %d is %d, want %d", i, p.ID, want)
		}
	}
	counts, err := d.PredictionCounts(ctx)
	if err != nil || counts[lift.Medium][0] != 3 {
		t.Errorf("counts after the prune = %v, %v; want 3 medium", counts, err)
	}
	MustGetClip(t, s, clip)
	// New predictions are recorded as before.
	p := record(time.Now(), &clip)
	if p.ID <= kept[2].ID {
		t.Errorf("a prediction after the prune got id %d, not above %d", p.ID, kept[2].ID)
	}
	// What counts a clip's predictions (SQLite's from its per-clip index,
	// without reading the table) counts no pruned one.
	MustAddOutcome(t, s, clip, 100, 3)
	if n, err := s.CountPredictionsWithActual(ctx, clip); err != nil || n != 4 {
		t.Errorf("CountPredictionsWithActual after the prune = %d, %v; want 4", n, err)
	}

	// A prune of everything there is (after a pause in which SQLite
	// indexes the newest too): no id is ever given out again, and a
	// prediction recorded afterwards reads back.
	time.Sleep(2500 * time.Millisecond)
	if _, err := s.PrunePredictions(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("PrunePredictions(everything): %v", err)
	}
	next := record(time.Now(), &clip)
	if next.ID <= p.ID {
		t.Errorf("after pruning everything a new prediction got id %d, not above %d", next.ID, p.ID)
	}
	if ps, err := d.ClipPredictions(ctx, clip, 50); err != nil || len(ps) == 0 || ps[0].ID != next.ID {
		t.Errorf("ClipPredictions after pruning everything = %v, %v; want %d first", ps, err, next.ID)
	}
}

// testPredictionsConcurrent records predictions from many goroutines at
// once, as a busy server does (stores may batch them), with a few for an
// unknown clip among them: those fail alone, the others get distinct ids.
func testPredictionsConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	ids := []string{"c1", "c2", "c3"}
	for _, id := range ids {
		MustPutClip(t, s, NewClip(id, 10))
	}
	const n = 60
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
		ps   = make([]*lift.Prediction, n)
	)
	for i := range n {
		clip := ids[i%len(ids)]
		if i%20 == 7 {
			clip = "no-such-clip"
		}
		ps[i] = &lift.Prediction{ClipID: &clip, PredictedCTR: float64(i) / n, Band: lift.Low, Confidence: 0.5,
			Interval: [2]float64{0, 1}, Source: "model"}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RecordPrediction(ctx, ps[i])
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	perClip := map[string]int{}
	for i, err := range errs {
		if *ps[i].ClipID == "no-such-clip" {
			wantKind(t, "RecordPrediction for an unknown clip", err, lift.NotFound)
			continue
		}
		if err != nil {
			t.Fatalf("RecordPrediction %d: %v", i, err)
		}
		if ps[i].ID <= 0 || seen[ps[i].ID] {
			t.Fatalf("prediction %d got id %d (seen before: %v)", i, ps[i].ID, seen[ps[i].ID])
		}
		seen[ps[i].ID] = true
		perClip[*ps[i].ClipID]++
	}
	for _, id := range ids {
		MustAddOutcome(t, s, id, 10, 1)
		if n, err := s.CountPredictionsWithActual(ctx, id); err != nil || n != perClip[id] {
			t.Errorf("predictions of %s = %d, %v; want %d", id, n, err, perClip[id])
		}
	}
}

// testRewardsConcurrent rewards one event from many goroutines at once
// (replicas racing): exactly one reward is stored, and every other call
// gets it back as the existing one.
func testRewardsConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.CreateExperiment(ctx, newExperiment("race", t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveDecision(ctx, newDecision("race", "ev", 0, t0, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg       sync.WaitGroup
		rs       = make([]*lift.Reward, n)
		existing = make([]*lift.Reward, n)
		errs     = make([]error, n)
	)
	for i := range n {
		rs[i] = &lift.Reward{ExperimentID: "race", EventID: "ev", Value: float64(i) / n, CreatedAt: t0.Add(time.Minute)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			existing[i], errs[i] = s.SaveReward(ctx, rs[i])
		}()
	}
	wg.Wait()
	var winner *lift.Reward
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("SaveReward %d: %v", i, errs[i])
		}
		if existing[i] == nil {
			if winner != nil {
				t.Fatalf("two rewards stored for one event: %+v and %+v", winner, rs[i])
			}
			winner = rs[i]
		}
	}
	if winner == nil {
		t.Fatal("no reward was stored")
	}
	for i := range n {
		if e := existing[i]; e != nil && (e.Seq != winner.Seq || e.Value != winner.Value) {
			t.Errorf("call %d got existing %+v, want the stored %+v", i, e, winner)
		}
	}
	if ds, err := s.ExpiredDecisions(ctx, t0.Add(2*time.Hour), 10); err != nil || len(ds) != 0 {
		t.Errorf("ExpiredDecisions after the reward = %d, %v; want none (the decision is rewarded)", len(ds), err)
	}
}

// testDecisionsConcurrent decides many events at once, some of them
// twice and some in an experiment that does not exist (a store may write
// them in one batch): each event is stored once, with the decision whose
// call succeeded; every second decision of an event is a conflict, and
// every decision of the missing experiment is not found.
func testDecisionsConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, id := range []string{"dc-a", "dc-b"} {
		if err := s.CreateExperiment(ctx, newExperiment(id, t0)); err != nil {
			t.Fatal(err)
		}
	}
	const n = 96
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		ds    = make([]*lift.Decision, n)
		errs  = make([]error, n)
	)
	for i := range n {
		exp := []string{"dc-a", "dc-b"}[i%2]
		if i%16 == 5 {
			exp = "dc-missing"
		}
		ds[i] = newDecision(exp, fmt.Sprintf("ev%d", i%40), i%2, t0.Add(time.Duration(i)*time.Millisecond), t0.Add(time.Hour))
		ds[i].Context = map[string]float64{"caller": float64(i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = s.SaveDecision(ctx, ds[i])
		}()
	}
	close(start)
	wg.Wait()
	winners := map[string]int{}
	seqs := map[int64]bool{}
	for i, err := range errs {
		d := ds[i]
		key := d.ExperimentID + "/" + d.EventID
		switch {
		case d.ExperimentID == "dc-missing":
			wantKind(t, "SaveDecision in a missing experiment", err, lift.NotFound)
		case err == nil:
			if w, ok := winners[key]; ok {
				t.Fatalf("%s decided twice: by calls %d and %d", key, w, i)
			}
			winners[key] = i
			if d.Seq <= 0 || seqs[d.Seq] {
				t.Fatalf("call %d got seq %d (seen before: %v)", i, d.Seq, seqs[d.Seq])
			}
			seqs[d.Seq] = true
		default:
			wantKind(t, "SaveDecision "+key, err, lift.Conflict)
		}
	}
	for i, d := range ds {
		if d.ExperimentID == "dc-missing" {
			continue
		}
		key := d.ExperimentID + "/" + d.EventID
		w, ok := winners[key]
		if !ok {
			t.Fatalf("no call deciding %s succeeded", key)
		}
		if w != i {
			continue
		}
		j, err := s.GetDecision(ctx, d.ExperimentID, d.EventID)
		if err != nil {
			t.Fatalf("GetDecision(%s): %v", key, err)
		}
		if j.Seq != d.Seq || j.Context["caller"] != float64(i) || j.Chosen != d.Chosen || !j.CreatedAt.Equal(d.CreatedAt) {
			t.Errorf("%s stored seq %d, context %v, chosen %d, at %v; the call that succeeded had seq %d, caller %d, chosen %d, at %v",
				key, j.Seq, j.Context, j.Chosen, j.CreatedAt, d.Seq, i, d.Chosen, d.CreatedAt)
		}
	}
	if len(winners) != 2*20 {
		t.Errorf("%d events decided, want 40", len(winners))
	}
}

// FeatureSource is what a store that reads a clip's model inputs on its
// own (and may cache them) has.
type FeatureSource interface {
	ClipFeatures(ctx context.Context, id string) (lift.Features, error)
}

// testClipFeaturesFollowWrites: a store's feature read sees its own clip
// writes at once, cache or not.
func testClipFeaturesFollowWrites(t *testing.T, s Store) {
	fs, ok := s.(FeatureSource)
	if !ok {
		t.Skip("the store has no ClipFeatures")
	}
	ctx := context.Background()
	if _, err := fs.ClipFeatures(ctx, "f1"); lift.KindOf(err) != lift.NotFound {
		t.Fatalf("ClipFeatures(absent) = %v, want NotFound", err)
	}
	c := NewClip("f1", 10)
	MustPutClip(t, s, c)
	for i, d := range []float64{10, 20, 30} {
		if i > 0 {
			c.Duration = d
			if err := s.PutClips(ctx, []*lift.Clip{c}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 { // the second read may come from a cache
			f, err := fs.ClipFeatures(ctx, "f1")
			if err != nil || f != c.Features() {
				t.Fatalf("ClipFeatures after writing duration %v = %+v, %v; want %+v", d, f, err, c.Features())
			}
		}
	}
	c.Duration = 40
	MustPutClip(t, s, c)
	if f, err := fs.ClipFeatures(ctx, "f1"); err != nil || f.Duration != 40 {
		t.Fatalf("ClipFeatures after PutClip = %+v, %v; want duration 40", f, err)
	}
}

func testModelRegistry(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.ActiveModel(ctx); lift.KindOf(err) != lift.NotFound {
		t.Fatalf("ActiveModel on an empty registry: %v, want NotFound", err)
	}
	if v, err := s.ActiveVersion(ctx); err != nil || v != 0 {
		t.Fatalf("ActiveVersion on an empty registry = %d, %v; want 0", v, err)
	}
	if ms, err := s.ListModels(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("ListModels on an empty registry = %d, %v; want none", len(ms), err)
	}

	m1 := MustCreateModel(t, s, `{"learner":1}`, false)
	m2 := MustCreateModel(t, s, `{"learner":2}`, false)
	if m1.Version == 0 || m2.Version <= m1.Version {
		t.Fatalf("versions %d, %d: want positive and increasing", m1.Version, m2.Version)
	}
	if m1.Active || m2.Active {
		t.Error("a model created without activate is active")
	}
	if v, err := s.ActiveVersion(ctx); err != nil || v != 0 {
		t.Errorf("ActiveVersion with no active model = %d, %v; want 0", v, err)
	}

	got, err := s.GetModel(ctx, m1.Version)
	if err != nil {
		t.Fatalf("GetModel(%d): %v", m1.Version, err)
	}
	if !bytes.Equal(got.Model, m1.Model) || got.Source != "trained" || got.Objective != "reg:logistic" ||
		got.TrainingRows != 80 || got.HoldoutRows != 20 || got.Note != m1.Note || got.Evaluated || got.Metrics != nil ||
		got.Active || got.ActivatedAt != nil || !reflect.DeepEqual(got.Params, m1.Params) {
		t.Errorf("GetModel = %+v, want what was created: %+v", got, m1)
	}
	if !got.CreatedAt.Equal(m1.CreatedAt.Truncate(time.Microsecond)) && !got.CreatedAt.Equal(m1.CreatedAt) {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, m1.CreatedAt)
	}

	auc := 0.71
	mm := &lift.ModelMetrics{LogLoss: 0.2, AUC: &auc, RMSE: 0.03, ECE: 0.01,
		Reliability: []lift.ReliabilityBin{{Lo: 0, Hi: 0.1, Clips: 3, Impressions: 300, PredictedCTR: 0.04, ObservedCTR: 0.05}}}
	cal := &lift.Calibration{Level: 0.9, Quantile: 1.5, Residuals: []float64{-1, 0.5, 2}}
	if err := s.UpdateModelEvaluation(ctx, m1.Version, 25, mm, cal); err != nil {
		t.Fatalf("UpdateModelEvaluation: %v", err)
	}
	got, err = s.GetModel(ctx, m1.Version)
	if err != nil {
		t.Fatalf("GetModel: %v", err)
	}
	if !got.Evaluated || got.HoldoutRows != 25 || !reflect.DeepEqual(got.Metrics, mm) || !reflect.DeepEqual(got.Calibration, cal) {
		t.Errorf("after evaluation = evaluated %v, holdout %d, metrics %+v, calibration %+v", got.Evaluated, got.HoldoutRows, got.Metrics, got.Calibration)
	}
	wantKind(t, "UpdateModelEvaluation(unknown)", s.UpdateModelEvaluation(ctx, 9999, 1, mm, cal), lift.NotFound)
	if err := s.SetModelNote(ctx, m1.Version, "not promoted: the active model changed"); err != nil {
		t.Fatalf("SetModelNote: %v", err)
	}
	if got, err := s.GetModel(ctx, m1.Version); err != nil || got.Note != "not promoted: the active model changed" {
		t.Errorf("after SetModelNote = %+v, %v", got, err)
	}
	wantKind(t, "SetModelNote(unknown)", s.SetModelNote(ctx, 9999, "x"), lift.NotFound)
	_, err = s.GetModel(ctx, 9999)
	wantKind(t, "GetModel(unknown)", err, lift.NotFound)

	m3 := MustCreateModel(t, s, `{"learner":3}`, true)
	if !m3.Active || m3.ActivatedAt == nil {
		t.Errorf("CreateModel(activate) = active %v, activated_at %v", m3.Active, m3.ActivatedAt)
	}
	ms, err := s.ListModels(ctx)
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	var versions []int64
	for _, m := range ms {
		versions = append(versions, m.Version)
		if m.Model != nil {
			t.Errorf("ListModels returned version %d with its JSON", m.Version)
		}
	}
	if want := []int64{m3.Version, m2.Version, m1.Version}; !reflect.DeepEqual(versions, want) {
		t.Errorf("ListModels versions = %v, want newest first %v", versions, want)
	}
	active, err := s.ActiveModel(ctx)
	if err != nil {
		t.Fatalf("ActiveModel: %v", err)
	}
	if active.Version != m3.Version || string(active.Model) != `{"learner":3}` || !active.Active || active.ActivatedAt == nil {
		t.Errorf("ActiveModel = version %d, json %q, active %v", active.Version, active.Model, active.Active)
	}
	if v, err := s.ActiveVersion(ctx); err != nil || v != m3.Version {
		t.Errorf("ActiveVersion = %d, %v; want %d", v, err, m3.Version)
	}
}

func testActivateExactlyOne(t *testing.T, s Store) {
	ctx := context.Background()
	var vs []int64
	for i := range 4 {
		vs = append(vs, MustCreateModel(t, s, fmt.Sprintf(`{"m":%d}`, i), i == 0).Version)
	}
	steps := []struct {
		activate int64
		kind     lift.Kind // Internal means success here
		want     int64
	}{
		{vs[2], lift.Internal, vs[2]},
		{vs[1], lift.Internal, vs[1]}, // rollback to an older one
		{vs[1], lift.Internal, vs[1]}, // again: still exactly one
		{9999, lift.NotFound, vs[1]},  // unknown: nothing changes
		{vs[3], lift.Internal, vs[3]}, // forward
		{-1, lift.NotFound, vs[3]},    // nonsense version
		{vs[0], lift.Internal, vs[0]}, // the first one again
	}
	for i, st := range steps {
		err := s.ActivateModel(ctx, st.activate)
		if st.kind == lift.Internal && err != nil {
			t.Fatalf("step %d: ActivateModel(%d): %v", i, st.activate, err)
		}
		if st.kind != lift.Internal {
			wantKind(t, fmt.Sprintf("step %d: ActivateModel(%d)", i, st.activate), err, st.kind)
		}
		ms, err := s.ListModels(ctx)
		if err != nil {
			t.Fatalf("ListModels: %v", err)
		}
		var active []int64
		for _, m := range ms {
			if m.Active {
				active = append(active, m.Version)
				if m.ActivatedAt == nil {
					t.Errorf("step %d: active version %d has no activated_at", i, m.Version)
				}
			}
		}
		if !reflect.DeepEqual(active, []int64{st.want}) {
			t.Fatalf("step %d: active versions = %v, want exactly [%d]", i, active, st.want)
		}
		if v, err := s.ActiveVersion(ctx); err != nil || v != st.want {
			t.Fatalf("step %d: ActiveVersion = %d, %v; want %d", i, v, err, st.want)
		}
	}
}

// testActivateModelIf: activation conditional on the current activation
// (a version and its activation's number), alone and raced.
func testActivateModelIf(t *testing.T, s Store) {
	ctx := context.Background()
	m1 := MustCreateModel(t, s, `{"m":1}`, false)
	m2 := MustCreateModel(t, s, `{"m":2}`, false)
	current := func() lift.Activation {
		t.Helper()
		a, err := s.CurrentActivation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := s.ActiveVersion(ctx); err != nil || v != a.Version {
			t.Fatalf("ActiveVersion = %d, %v; CurrentActivation says %d", v, err, a.Version)
		}
		return a
	}
	none := current()
	if none != (lift.Activation{}) {
		t.Fatalf("CurrentActivation with none active = %+v, want the zero Activation", none)
	}
	try := func(step string, version int64, ifActive lift.Activation, want bool, wantVersion int64) lift.Activation {
		t.Helper()
		ok, err := s.ActivateModelIf(ctx, version, ifActive)
		if err != nil || ok != want {
			t.Fatalf("%s: ActivateModelIf(%d, if %+v) = %v, %v; want %v", step, version, ifActive, ok, err, want)
		}
		a := current()
		if a.Version != wantVersion {
			t.Fatalf("%s: active version %d, want %d", step, a.Version, wantVersion)
		}
		return a
	}
	try("not m2, none is active", m1.Version, lift.Activation{Version: m2.Version, Seq: 1}, false, 0)
	a1 := try("none was active", m1.Version, none, true, m1.Version)
	try("m1 is active now", m2.Version, none, false, m1.Version)
	a2 := try("against m1's activation", m2.Version, a1, true, m2.Version)
	if a2.Seq <= a1.Seq {
		t.Fatalf("activation numbers %d then %d, want them to grow", a1.Seq, a2.Seq)
	}
	// A rollback to m1 and then m2 again: the same version, a new
	// activation. A promotion decided against a2 must not override it.
	if err := s.ActivateModel(ctx, m1.Version); err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateModel(ctx, m2.Version); err != nil {
		t.Fatal(err)
	}
	again := try("m2 activated again since", m1.Version, a2, false, m2.Version)
	if again == a2 {
		t.Fatalf("m2 activated again kept its activation %+v", a2)
	}
	// Activating the active version once more changes nothing, so it
	// does not void a promotion decided against it.
	if err := s.ActivateModel(ctx, m2.Version); err != nil {
		t.Fatal(err)
	}
	if a := current(); a != again {
		t.Fatalf("re-activating the active v%d moved the activation from %+v to %+v", m2.Version, again, a)
	}
	_, err := s.ActivateModelIf(ctx, 999999, again)
	wantKind(t, "ActivateModelIf(unknown version)", err, lift.NotFound)
	if current() != again {
		t.Fatalf("a failed ActivateModelIf changed the activation to %+v", current())
	}
	active := func() int64 { t.Helper(); return current().Version }

	// Eight promotions decided against m2 race: exactly one wins.
	const n = 8
	var (
		wg  sync.WaitGroup
		won = make([]bool, n)
		vs  = make([]int64, n)
	)
	for i := range n {
		vs[i] = MustCreateModel(t, s, fmt.Sprintf(`{"race":%d}`, i), false).Version
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if won[i], err = s.ActivateModelIf(ctx, vs[i], again); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if won[i] {
			winners++
			if active() != vs[i] {
				t.Errorf("winner v%d is not the active version (%d)", vs[i], active())
			}
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d conditional activations won, want exactly 1", winners, n)
	}
}

func testLock(t *testing.T, s Store) {
	ctx := context.Background()
	const name = "train"
	steps := []struct {
		do     string // "lock", "unlock", "expire"
		holder string
		ttl    time.Duration
		want   bool
	}{
		{"lock", "a", time.Hour, true},
		{"lock", "b", time.Hour, false},   // a holds it
		{"lock", "a", time.Hour, true},    // the holder renews
		{"unlock", "b", 0, false},         // not b's to release
		{"lock", "b", time.Hour, false},   // still a's
		{"unlock", "a", 0, false},         // released
		{"lock", "b", time.Hour, true},    // free: b takes it
		{"lock", "a", time.Hour, false},   // b holds it
		{"expire", "", 0, false},          // as if b crashed and its TTL passed
		{"lock", "a", time.Hour, true},    // expired lease taken over
		{"lock", "b", time.Hour, false},   // b lost it
		{"unlock", "a", 0, false},         //
		{"lock", "c", -time.Second, true}, // a lease that is already over...
		{"lock", "d", time.Hour, true},    // ...is taken over without ExpireLocks
	}
	for i, st := range steps {
		switch st.do {
		case "lock":
			ok, err := s.TryLock(ctx, name, st.holder, st.ttl)
			if err != nil {
				t.Fatalf("step %d: TryLock(%s): %v", i, st.holder, err)
			}
			if ok != st.want {
				t.Fatalf("step %d: TryLock(%s) = %v, want %v", i, st.holder, ok, st.want)
			}
		case "unlock":
			if err := s.Unlock(ctx, name, st.holder); err != nil {
				t.Fatalf("step %d: Unlock(%s): %v", i, st.holder, err)
			}
		case "expire":
			if err := s.ExpireLocks(ctx); err != nil {
				t.Fatalf("step %d: ExpireLocks: %v", i, err)
			}
		}
	}
	// Leases are per name.
	if ok, err := s.TryLock(ctx, "other", "x", time.Hour); err != nil || !ok {
		t.Errorf("TryLock on another name = %v, %v; want true", ok, err)
	}
}

// newExperiment returns a valid experiment with variants a and b.
func newExperiment(id string, created time.Time) *lift.Experiment {
	return &lift.Experiment{
		ID:            id,
		Variants:      []lift.Variant{{ID: "a", Features: map[string]float64{"x": 1}}, {ID: "b", ClipID: "clip-b"}},
		Policy:        lift.PolicySpec{Name: "thompson", Params: map[string]float64{"alpha": 1}},
		RewardWait:    lift.Duration{Duration: time.Hour},
		DefaultReward: 0,
		RewardRange:   [2]float64{0, 1},
		CreatedAt:     created,
	}
}

// newDecision returns a decision between a and b that played chosen.
func newDecision(experimentID, eventID string, chosen int, created, deadline time.Time) *lift.Decision {
	pmf := []float64{0.25, 0.75}
	return &lift.Decision{ExperimentID: experimentID, EventID: eventID, Context: map[string]float64{"hour": 12},
		Variants: []string{"a", "b"}, PMF: pmf, Chosen: chosen, Probability: pmf[chosen], PolicyVersion: 3,
		CreatedAt: created, Deadline: deadline}
}

func joinedEvents(js []*lift.Joined) []string {
	out := []string{}
	for _, j := range js {
		out = append(out, j.ExperimentID+"/"+j.EventID)
	}
	return out
}

func runExperiments(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 4, 1, 12, 0, 0, 0, time.UTC)

	// Create, duplicate, get, list, update.
	for _, id := range []string{"exp-b", "exp-a"} {
		if err := s.CreateExperiment(ctx, newExperiment(id, t0)); err != nil {
			t.Fatalf("CreateExperiment(%s): %v", id, err)
		}
	}
	wantKind(t, "CreateExperiment(duplicate)", s.CreateExperiment(ctx, newExperiment("exp-a", t0)), lift.Conflict)
	want := newExperiment("exp-a", t0)
	got, err := s.GetExperiment(ctx, "exp-a")
	if err != nil {
		t.Fatalf("GetExperiment: %v", err)
	}
	if !got.CreatedAt.Equal(t0) {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, t0)
	}
	got.CreatedAt = want.CreatedAt
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GetExperiment = %+v, want %+v", got, want)
	}
	_, err = s.GetExperiment(ctx, "no-such")
	wantKind(t, "GetExperiment(unknown)", err, lift.NotFound)
	es, err := s.ListExperiments(ctx)
	if err != nil {
		t.Fatalf("ListExperiments: %v", err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	if !reflect.DeepEqual(ids, []string{"exp-a", "exp-b"}) {
		t.Errorf("ListExperiments ids = %q, want [exp-a exp-b]", ids)
	}
	// Changes to the stored definition: applied and returned; refused by
	// the change, nothing written; and concurrent ones all kept.
	upd, err := s.ModifyExperiment(ctx, "exp-a", func(e *lift.Experiment) error {
		e.Variants = append(e.Variants, lift.Variant{ID: "c", Retired: true})
		return nil
	})
	if err != nil || len(upd.Variants) != 3 || !upd.Variants[2].Retired || !upd.CreatedAt.Equal(t0) {
		t.Fatalf("ModifyExperiment = %+v, %v; want 3 variants, c retired", upd, err)
	}
	if got, err := s.GetExperiment(ctx, "exp-a"); err != nil || len(got.Variants) != 3 || !got.Variants[2].Retired {
		t.Errorf("after ModifyExperiment = %+v, %v; want 3 variants, c retired", got, err)
	}
	_, err = s.ModifyExperiment(ctx, "exp-a", func(e *lift.Experiment) error {
		e.Variants = e.Variants[:1]
		return lift.Errorf(lift.Conflict, "refused")
	})
	wantKind(t, "ModifyExperiment(refused by the change)", err, lift.Conflict)
	if got, err := s.GetExperiment(ctx, "exp-a"); err != nil || len(got.Variants) != 3 {
		t.Errorf("a refused change wrote %+v, %v", got, err)
	}
	_, err = s.ModifyExperiment(ctx, "no-such", func(*lift.Experiment) error { return nil })
	wantKind(t, "ModifyExperiment(unknown)", err, lift.NotFound)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			if _, err := s.ModifyExperiment(ctx, "exp-b", func(e *lift.Experiment) error {
				e.Variants = append(e.Variants, lift.Variant{ID: fmt.Sprint("new", i)})
				return nil
			}); err != nil {
				t.Errorf("concurrent ModifyExperiment %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if got, err := s.GetExperiment(ctx, "exp-b"); err != nil || len(got.Variants) != 8 {
		t.Errorf("after six concurrent changes exp-b has %d variants, %v; want 8 (none lost)", len(got.Variants), err)
	}
	if _, err := s.ModifyExperiment(ctx, "exp-b", func(e *lift.Experiment) error {
		e.Variants = e.Variants[:2]
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Decisions.
	decisions := []*lift.Decision{
		newDecision("exp-a", "ev1", 0, t0, t0.Add(time.Hour)),
		newDecision("exp-a", "ev2", 1, t0, t0.Add(2*time.Hour)),
		newDecision("exp-a", "ev3", 0, t0, t0.Add(3*time.Hour)),
		// The same event id in another experiment is another decision.
		newDecision("exp-b", "ev1", 1, t0, t0.Add(30*time.Minute)),
	}
	for _, d := range decisions {
		if err := s.SaveDecision(ctx, d); err != nil {
			t.Fatalf("SaveDecision(%s/%s): %v", d.ExperimentID, d.EventID, err)
		}
	}
	wantKind(t, "SaveDecision(duplicate)", s.SaveDecision(ctx, newDecision("exp-a", "ev1", 1, t0, t0)), lift.Conflict)
	j, err := s.GetDecision(ctx, "exp-a", "ev1")
	if err != nil {
		t.Fatalf("GetDecision: %v", err)
	}
	if j.Reward != nil || j.Seq <= 0 || !j.CreatedAt.Equal(t0) || !j.Deadline.Equal(t0.Add(time.Hour)) {
		t.Errorf("GetDecision = seq %d, reward %v, created %v, deadline %v", j.Seq, j.Reward, j.CreatedAt, j.Deadline)
	}
	wd := *decisions[0]
	wd.Seq, wd.CreatedAt, wd.Deadline = j.Seq, j.CreatedAt, j.Deadline
	if !reflect.DeepEqual(j.Decision, wd) {
		t.Errorf("GetDecision = %+v, want %+v (the duplicate must not have replaced it)", j.Decision, wd)
	}
	_, err = s.GetDecision(ctx, "exp-a", "no-such")
	wantKind(t, "GetDecision(unknown)", err, lift.NotFound)
	_, err = s.GetDecision(ctx, "no-such", "ev1")
	wantKind(t, "GetDecision(unknown experiment)", err, lift.NotFound)

	// Log pages by decision seq.
	log, err := s.Log(ctx, "exp-a", 0, 10)
	if err != nil {
		t.Fatalf("Log: %v", err)
	}
	if got := joinedEvents(log); !reflect.DeepEqual(got, []string{"exp-a/ev1", "exp-a/ev2", "exp-a/ev3"}) {
		t.Fatalf("Log = %q, want exp-a's ev1 ev2 ev3", got)
	}
	if !(log[0].Seq < log[1].Seq && log[1].Seq < log[2].Seq) {
		t.Errorf("Log seqs %d %d %d, want increasing", log[0].Seq, log[1].Seq, log[2].Seq)
	}
	if page, err := s.Log(ctx, "exp-a", 0, 1); err != nil || !reflect.DeepEqual(joinedEvents(page), []string{"exp-a/ev1"}) {
		t.Errorf("Log(limit 1) = %q, %v; want [exp-a/ev1]", joinedEvents(page), err)
	}
	if page, err := s.Log(ctx, "exp-a", log[0].Seq, 10); err != nil || !reflect.DeepEqual(joinedEvents(page), []string{"exp-a/ev2", "exp-a/ev3"}) {
		t.Errorf("Log(after ev1) = %q, %v; want [exp-a/ev2 exp-a/ev3]", joinedEvents(page), err)
	}
	if page, err := s.Log(ctx, "exp-a", log[2].Seq, 10); err != nil || len(page) != 0 {
		t.Errorf("Log(after the last) = %q, %v; want none", joinedEvents(page), err)
	}
	if tail, err := s.LogTail(ctx, "exp-a", 2); err != nil || !reflect.DeepEqual(joinedEvents(tail), []string{"exp-a/ev2", "exp-a/ev3"}) {
		t.Errorf("LogTail(2) = %q, %v; want [exp-a/ev2 exp-a/ev3], oldest first", joinedEvents(tail), err)
	}
	if tail, err := s.LogTail(ctx, "exp-a", 10); err != nil || len(tail) != 3 {
		t.Errorf("LogTail(10) = %q, %v; want all three", joinedEvents(tail), err)
	}

	// Expired decisions: past the deadline (strictly) and not rewarded, by deadline.
	expired := func(now time.Time, limit int) []string {
		t.Helper()
		ds, err := s.ExpiredDecisions(ctx, now, limit)
		if err != nil {
			t.Fatalf("ExpiredDecisions: %v", err)
		}
		out := []string{}
		for _, d := range ds {
			out = append(out, d.ExperimentID+"/"+d.EventID)
		}
		return out
	}
	if got := expired(t0.Add(time.Hour), 10); !reflect.DeepEqual(got, []string{"exp-b/ev1"}) {
		t.Errorf("ExpiredDecisions(at ev1's deadline) = %q, want [exp-b/ev1]", got)
	}
	if got := expired(t0.Add(150*time.Minute), 10); !reflect.DeepEqual(got, []string{"exp-b/ev1", "exp-a/ev1", "exp-a/ev2"}) {
		t.Errorf("ExpiredDecisions = %q, want [exp-b/ev1 exp-a/ev1 exp-a/ev2]", got)
	}
	if got := expired(t0.Add(150*time.Minute), 2); !reflect.DeepEqual(got, []string{"exp-b/ev1", "exp-a/ev1"}) {
		t.Errorf("ExpiredDecisions(limit 2) = %q, want [exp-b/ev1 exp-a/ev1]", got)
	}

	// Rewards: new, existing returned, unknown.
	r1 := &lift.Reward{ExperimentID: "exp-a", EventID: "ev1", Value: 1, CreatedAt: t0.Add(time.Minute)}
	existing, err := s.SaveReward(ctx, r1)
	if err != nil || existing != nil || r1.Seq <= 0 {
		t.Fatalf("SaveReward(new) = existing %v, %v, seq %d; want nil, nil, positive", existing, err, r1.Seq)
	}
	existing, err = s.SaveReward(ctx, &lift.Reward{ExperimentID: "exp-a", EventID: "ev1", Value: 0.5})
	if err != nil || existing == nil {
		t.Fatalf("SaveReward(again) = existing %v, %v; want the stored reward", existing, err)
	}
	if existing.Seq != r1.Seq || existing.Value != 1 || existing.Default || existing.ExperimentID != "exp-a" ||
		existing.EventID != "ev1" || !existing.CreatedAt.Equal(r1.CreatedAt) {
		t.Errorf("SaveReward(again) returned %+v, want the first %+v", existing, r1)
	}
	_, err = s.SaveReward(ctx, &lift.Reward{ExperimentID: "exp-a", EventID: "no-such", Value: 1})
	wantKind(t, "SaveReward(unknown event)", err, lift.NotFound)
	_, err = s.SaveReward(ctx, &lift.Reward{ExperimentID: "no-such", EventID: "ev1", Value: 1})
	wantKind(t, "SaveReward(unknown experiment)", err, lift.NotFound)
	j, err = s.GetDecision(ctx, "exp-a", "ev1")
	if err != nil {
		t.Fatalf("GetDecision: %v", err)
	}
	if j.Reward == nil || j.Reward.Seq != r1.Seq || j.Reward.Value != 1 || j.Reward.Default || !j.Reward.CreatedAt.Equal(r1.CreatedAt) {
		t.Errorf("GetDecision after reward: reward %+v, want %+v", j.Reward, r1)
	}
	if got := expired(t0.Add(150*time.Minute), 10); !reflect.DeepEqual(got, []string{"exp-b/ev1", "exp-a/ev2"}) {
		t.Errorf("ExpiredDecisions after rewarding exp-a/ev1 = %q, want [exp-b/ev1 exp-a/ev2]", got)
	}

	// Rewarded out of decision order: RewardedSince follows reward seq.
	r3 := &lift.Reward{ExperimentID: "exp-a", EventID: "ev3", Value: 0, Default: true}
	rb := &lift.Reward{ExperimentID: "exp-b", EventID: "ev1", Value: 1}
	r2 := &lift.Reward{ExperimentID: "exp-a", EventID: "ev2", Value: 1}
	for _, r := range []*lift.Reward{r3, rb, r2} {
		if existing, err := s.SaveReward(ctx, r); err != nil || existing != nil {
			t.Fatalf("SaveReward(%s/%s) = %v, %v", r.ExperimentID, r.EventID, existing, err)
		}
	}
	if !(r1.Seq < r3.Seq && r3.Seq < rb.Seq && rb.Seq < r2.Seq) {
		t.Errorf("reward seqs %d %d %d %d, want increasing", r1.Seq, r3.Seq, rb.Seq, r2.Seq)
	}
	rs, err := s.RewardedSince(ctx, "exp-a", 0, 10)
	if err != nil {
		t.Fatalf("RewardedSince: %v", err)
	}
	if got := joinedEvents(rs); !reflect.DeepEqual(got, []string{"exp-a/ev1", "exp-a/ev3", "exp-a/ev2"}) {
		t.Fatalf("RewardedSince = %q, want [exp-a/ev1 exp-a/ev3 exp-a/ev2] (reward order)", got)
	}
	for i, r := range []*lift.Reward{r1, r3, r2} {
		if rs[i].Reward == nil || rs[i].Reward.Seq != r.Seq || rs[i].Reward.Value != r.Value || rs[i].Reward.Default != r.Default {
			t.Errorf("RewardedSince[%d].Reward = %+v, want %+v", i, rs[i].Reward, r)
		}
	}
	if page, err := s.RewardedSince(ctx, "exp-a", r3.Seq, 10); err != nil || !reflect.DeepEqual(joinedEvents(page), []string{"exp-a/ev2"}) {
		t.Errorf("RewardedSince(after ev3's reward) = %q, %v; want [exp-a/ev2]", joinedEvents(page), err)
	}
	if page, err := s.RewardedSince(ctx, "exp-a", 0, 2); err != nil || !reflect.DeepEqual(joinedEvents(page), []string{"exp-a/ev1", "exp-a/ev3"}) {
		t.Errorf("RewardedSince(limit 2) = %q, %v; want [exp-a/ev1 exp-a/ev3]", joinedEvents(page), err)
	}
	if got := expired(t0.Add(24*time.Hour), 10); len(got) != 0 {
		t.Errorf("ExpiredDecisions with every decision rewarded = %q, want none", got)
	}
	// The Log carries the rewards too.
	if log, err := s.Log(ctx, "exp-a", 0, 10); err != nil || len(log) != 3 || log[1].Reward == nil || log[1].Reward.Seq != r2.Seq {
		t.Errorf("Log after rewards = %q, %v; want ev2 with its reward", joinedEvents(log), err)
	}

	// The timeline's plays: the latest decisions, oldest first.
	one, zero := 1.0, 0.0
	wantPlays := []lift.Play{{At: t0, Variant: "b", Reward: &one}, {At: t0, Variant: "a", Reward: &zero}}
	plays, err := s.RecentPlays(ctx, "exp-a", 2)
	samePlay := func(a, b lift.Play) bool {
		return a.At.Equal(b.At) && a.Variant == b.Variant && (a.Reward == nil) == (b.Reward == nil) && (a.Reward == nil || *a.Reward == *b.Reward)
	}
	if err != nil || len(plays) != 2 || !samePlay(plays[0], wantPlays[0]) || !samePlay(plays[1], wantPlays[1]) {
		t.Errorf("RecentPlays(exp-a, 2) = %+v, %v; want ev2 (b, 1) then ev3 (a, 0)", plays, err)
	}
	if plays, err := s.RecentPlays(ctx, "exp-b", 10); err != nil || len(plays) != 1 || plays[0].Variant != "b" || plays[0].Reward == nil {
		t.Errorf("RecentPlays(exp-b) = %+v, %v; want its one rewarded play of b", plays, err)
	}
	if plays, err := s.RecentPlays(ctx, "no-such", 10); err != nil || len(plays) != 0 {
		t.Errorf("RecentPlays(unknown) = %+v, %v; want none", plays, err)
	}

	// Totals by chosen variant, up to a reward seq.
	totals, err := s.Totals(ctx, "exp-a", 0, math.MaxInt64)
	if err != nil {
		t.Fatalf("Totals: %v", err)
	}
	if want := map[string]lift.VariantTotals{"a": {Trials: 2, RewardSum: 1}, "b": {Trials: 1, RewardSum: 1}}; !reflect.DeepEqual(totals, want) {
		t.Errorf("Totals(exp-a) = %+v, want %+v", totals, want)
	}
	if totals, err := s.Totals(ctx, "exp-a", 0, r3.Seq); err != nil || !reflect.DeepEqual(totals, map[string]lift.VariantTotals{"a": {Trials: 2, RewardSum: 1}}) {
		t.Errorf("Totals(exp-a, up to ev3's reward) = %+v, %v; want a: 2 trials, sum 1", totals, err)
	}
	if totals, err := s.Totals(ctx, "exp-a", r1.Seq, math.MaxInt64); err != nil ||
		!reflect.DeepEqual(totals, map[string]lift.VariantTotals{"a": {Trials: 1, RewardSum: 0}, "b": {Trials: 1, RewardSum: 1}}) {
		t.Errorf("Totals(exp-a, after ev1's reward) = %+v, %v; want a: 1 trial, sum 0; b: 1 trial, sum 1", totals, err)
	}
	if totals, err := s.Totals(ctx, "exp-a", 0, r1.Seq-1); err != nil || len(totals) != 0 {
		t.Errorf("Totals(exp-a, before any reward) = %+v, %v; want none", totals, err)
	}
	if totals, err := s.Totals(ctx, "exp-b", 0, math.MaxInt64); err != nil || !reflect.DeepEqual(totals, map[string]lift.VariantTotals{"b": {Trials: 1, RewardSum: 1}}) {
		t.Errorf("Totals(exp-b) = %+v, %v; want b: 1 trial, sum 1", totals, err)
	}

	// Snapshots: none at first; an older seq does not replace a newer one;
	// totals are returned only with the snapshot they were saved with.
	if snap, err := s.Snapshot(ctx, "exp-a"); err != nil || snap.State != nil || snap.Seq != 0 || snap.Totals != nil {
		t.Errorf("Snapshot before any = %+v, %v; want the zero value", snap, err)
	}
	some := map[string]lift.VariantTotals{"a": {Trials: 3, RewardSum: 0.1 + 0.2}, "b c": {Trials: 1, RewardSum: -1e300}}
	none := map[string]lift.VariantTotals{}
	steps := []struct {
		save lift.PolicySnapshot
		want lift.PolicySnapshot
	}{
		{lift.PolicySnapshot{State: []byte("s5"), Seq: 5, Totals: some}, lift.PolicySnapshot{State: []byte("s5"), Seq: 5, Totals: some}},
		{lift.PolicySnapshot{State: []byte("s3"), Seq: 3, Totals: none}, lift.PolicySnapshot{State: []byte("s5"), Seq: 5, Totals: some}}, // older: ignored
		{lift.PolicySnapshot{State: []byte("s5b"), Seq: 5, Totals: none}, lift.PolicySnapshot{State: []byte("s5b"), Seq: 5, Totals: none}},
		// Saved without totals (as an earlier version does): none back.
		{lift.PolicySnapshot{State: []byte("s7"), Seq: 7}, lift.PolicySnapshot{State: []byte("s7"), Seq: 7}},
		{lift.PolicySnapshot{State: []byte("s8"), Seq: 8, Totals: some}, lift.PolicySnapshot{State: []byte("s8"), Seq: 8, Totals: some}},
	}
	for i, st := range steps {
		if err := s.SaveSnapshot(ctx, "exp-a", st.save); err != nil {
			t.Fatalf("step %d: SaveSnapshot: %v", i, err)
		}
		snap, err := s.Snapshot(ctx, "exp-a")
		if err != nil || !reflect.DeepEqual(snap, st.want) {
			t.Errorf("step %d: Snapshot = %+v, %v; want %+v", i, snap, err, st.want)
		}
	}
	if snap, err := s.Snapshot(ctx, "exp-b"); err != nil || snap.State != nil || snap.Seq != 0 || snap.Totals != nil {
		t.Errorf("Snapshot of the other experiment = %+v, %v; want the zero value", snap, err)
	}
	_, err = s.Snapshot(ctx, "no-such")
	wantKind(t, "Snapshot(unknown)", err, lift.NotFound)
}

// testPruneExperimentLog: rewarded decisions made before the cut, and
// rewarded before it, go with their rewards once the latest snapshot saved
// with totals covers their rewards; decisions waiting for a reward, newer
// ones and other experiments' stay, every read agrees, and the chunks
// walk the whole log.
func testPruneExperimentLog(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cut := t0.Add(5 * 24 * time.Hour)
	for _, id := range []string{"old", "other"} {
		if err := s.CreateExperiment(ctx, newExperiment(id, t0)); err != nil {
			t.Fatal(err)
		}
	}
	// Decisions and rewards, concurrently (the stores group them).
	n := lift.PruneChunk + 150
	save := func(exp string, from, to int, decided, rewarded time.Time) []*lift.Reward {
		t.Helper()
		rs := make([]*lift.Reward, to-from)
		errs := make(chan error, 8)
		for w := range 8 {
			go func() {
				var err error
				for i := from + w; i < to && err == nil; i += 8 {
					ev := fmt.Sprint("ev", i)
					if err = s.SaveDecision(ctx, newDecision(exp, ev, i%2, decided.Add(time.Duration(i)*time.Millisecond), decided.Add(time.Hour))); err != nil {
						break
					}
					rs[i-from] = &lift.Reward{ExperimentID: exp, EventID: ev, Value: float64(i % 3), CreatedAt: rewarded}
					_, err = s.SaveReward(ctx, rs[i-from])
				}
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		return rs
	}
	old := save("old", 0, n, t0, t0.Add(time.Hour))
	save("other", 0, 3, t0, t0.Add(time.Hour))
	// Waiting for its reward; rewarded after the cut; made after the cut.
	if err := s.SaveDecision(ctx, newDecision("old", "pending", 0, t0, t0.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	late := save("old", n, n+1, t0, cut.Add(time.Hour))[0]
	recent := save("old", n+1, n+2, cut.Add(time.Hour), cut.Add(time.Hour))[0]

	prune := func(what string, want int64) {
		t.Helper()
		if got, err := s.PruneExperimentLog(ctx, "old", cut); err != nil || got != want {
			t.Fatalf("PruneExperimentLog %s = %d, %v; want %d", what, got, err, want)
		}
	}
	prune("without a snapshot", 0)
	seqs := make([]int64, 0, n)
	for _, r := range old {
		seqs = append(seqs, r.Seq)
	}
	slices.Sort(seqs)
	covered := seqs[n-101] // the last 100 old rewards are not covered
	if err := s.SaveSnapshot(ctx, "old", lift.PolicySnapshot{State: []byte("{}"), Seq: covered}); err != nil {
		t.Fatal(err)
	}
	prune("with a snapshot without totals", 0)
	if err := s.SaveSnapshot(ctx, "old", lift.PolicySnapshot{State: []byte("{}"), Seq: covered, Totals: map[string]lift.VariantTotals{}}); err != nil {
		t.Fatal(err)
	}
	prune("with a snapshot with totals", int64(n-100))
	prune("again", 0)

	if mark, err := s.LogPrunedUpTo(ctx, "old"); err != nil || mark != covered {
		t.Fatalf("LogPrunedUpTo after the prune = %d, %v; want %d", mark, err, covered)
	}
	if mark, err := s.LogPrunedUpTo(ctx, "other"); err != nil || mark != 0 {
		t.Errorf("the other experiment's LogPrunedUpTo = %d, %v; want 0", mark, err)
	}
	_, err := s.LogPrunedUpTo(ctx, "no-such")
	wantKind(t, "LogPrunedUpTo(unknown)", err, lift.NotFound)
	kept := map[string]bool{"pending": true, late.EventID: true, recent.EventID: true}
	for _, r := range old {
		_, err := s.GetDecision(ctx, "old", r.EventID)
		if r.Seq > covered {
			kept[r.EventID] = true
			if err != nil {
				t.Fatalf("GetDecision(%s), rewarded after the snapshot: %v", r.EventID, err)
			}
		} else if lift.KindOf(err) != lift.NotFound {
			t.Fatalf("GetDecision(%s), pruned = %v; want NotFound", r.EventID, err)
		}
	}
	log, err := s.Log(ctx, "old", 0, 10*n)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range log {
		if !kept[j.EventID] {
			t.Errorf("Log still has pruned %s", j.EventID)
		}
		delete(kept, j.EventID)
	}
	if len(kept) != 0 {
		t.Errorf("Log lost %d kept decisions", len(kept))
	}
	if rs, err := s.RewardedSince(ctx, "old", 0, 10*n); err != nil || len(rs) != 102 || rs[0].Reward.Seq <= covered {
		t.Errorf("RewardedSince after the prune = %d rewards, %v; want the 102 after the snapshot", len(rs), err)
	}
	if tail, err := s.LogTail(ctx, "old", 10*n); err != nil || len(tail) != 103 {
		t.Errorf("LogTail after the prune = %d, %v; want 103", len(tail), err)
	}
	if log, err := s.Log(ctx, "other", 0, 10); err != nil || len(log) != 3 {
		t.Errorf("the other experiment's log = %d decisions, %v; want its 3", len(log), err)
	}
	if ds, err := s.ExpiredDecisions(ctx, t0.Add(2*time.Hour), 10); err != nil || len(ds) != 1 || ds[0].EventID != "pending" {
		t.Errorf("ExpiredDecisions after the prune = %v, %v; want the pending one", ds, err)
	}
	_, err = s.PruneExperimentLog(ctx, "no-such", cut)
	wantKind(t, "PruneExperimentLog(unknown)", err, lift.NotFound)

	// Pruning up to the newest reward and decision of the store: the next
	// ones still get seqs past every seq handed out (a store may keep its
	// newest rows for that), and the log from the last seq learnt has them.
	last := save("other", 3, 6, t0, t0.Add(time.Hour))
	top := slices.MaxFunc(last, func(a, b *lift.Reward) int { return cmp.Compare(a.Seq, b.Seq) }).Seq
	if err := s.SaveSnapshot(ctx, "other", lift.PolicySnapshot{State: []byte("{}"), Seq: top, Totals: map[string]lift.VariantTotals{}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.PruneExperimentLog(ctx, "other", cut); err != nil || got < 4 {
		t.Fatalf("PruneExperimentLog(other) = %d, %v; want 4 to 6 (all but the store's newest decision and reward, at most)", got, err)
	}
	next := save("other", 6, 7, cut, cut)[0]
	if next.Seq <= top {
		t.Fatalf("a reward after the prune got seq %d, not past the pruned %d", next.Seq, top)
	}
	if rs, err := s.RewardedSince(ctx, "other", top, 10); err != nil || len(rs) != 1 || rs[0].EventID != next.EventID {
		t.Errorf("RewardedSince(the pruned top) = %q, %v; want the new reward", joinedEvents(rs), err)
	}
	if log, err := s.Log(ctx, "other", 0, 10); err != nil || len(log) == 0 || log[len(log)-1].EventID != next.EventID ||
		len(log) > 1 && log[len(log)-2].Seq >= log[len(log)-1].Seq {
		t.Errorf("Log after the prune = %q, %v; want the new decision last, past the others", joinedEvents(log), err)
	}
}
