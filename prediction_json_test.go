package lift

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPredictionAppendJSON holds the hand encoder to json.Marshal, byte
// for byte, over random predictions with awkward strings and floats.
func TestPredictionAppendJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	floats := []float64{0, 1, 0.5, 1e-7, 1e-6, 9.99e-7, 1e21, 1e20, 123456789.125, 5e-324, math.MaxFloat64, -0.0, -3.5e-9}
	strs := []string{"", "demo-0001", `quote"`, `back\slash`, "<script>&", "tab\tnew\nline", "é ünïcode", "\u2028", "\x7f", "bad\xffutf8"}
	randFloat := func() float64 {
		if rng.IntN(3) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return rng.Float64() * math.Pow(10, float64(rng.IntN(30)-15))
	}
	// Explanations are single precision: the edges of float32's range and
	// of its exponent form.
	floats32 := []float32{0, 1, 0.488, 1e-6, 9.99e-7, 1e21, 9.99e20, 1e-45, math.MaxFloat32, -3.5e-9}
	randFloat32 := func() float32 {
		if rng.IntN(3) == 0 {
			return floats32[rng.IntN(len(floats32))]
		}
		if v := randFloat(); math.Abs(v) <= math.MaxFloat32 {
			return float32(v)
		}
		return 0.25
	}
	for i := range 5000 {
		p := Prediction{
			ID: rng.Int64N(1 << 40), PredictedCTR: randFloat(), Band: Band(strs[rng.IntN(len(strs))]),
			Confidence: randFloat(), Interval: [2]float64{randFloat(), randFloat()},
			Source:    strs[rng.IntN(len(strs))],
			CreatedAt: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(time.FixedZone("x", rng.IntN(48)*1800-12*3600)),
		}
		if rng.IntN(2) == 0 {
			s := strs[rng.IntN(len(strs))]
			p.ClipID = &s
		}
		if rng.IntN(2) == 0 {
			v := rng.Int64N(100) - 5
			p.ModelVersion = &v
		}
		for range rng.IntN(4) {
			p.Explanation = append(p.Explanation, Contribution{Feature: strs[rng.IntN(len(strs))], Value: randFloat32(), Contribution: -randFloat32()})
		}
		if i%7 == 0 {
			p.Explanation = []Contribution{} // empty, omitted like nil
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.AppendJSON(nil)
		if err != nil {
			t.Fatalf("AppendJSON(%+v): %v", p, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON differs from json.Marshal:\n got %s\nwant %s", got, want)
		}
	}
}

func TestPredictionAppendJSONRefusesNaN(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		p := Prediction{Confidence: v}
		if _, err := p.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON with confidence %v succeeded, want an error", v)
		}
		p = Prediction{Explanation: []Contribution{{Value: float32(v)}}}
		if _, err := p.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON with an explanation value %v succeeded, want an error", v)
		}
	}
}

func BenchmarkPredictionJSON(b *testing.B) {
	id, v := "demo-0005", int64(1)
	p := Prediction{ID: 105270, ClipID: &id, PredictedCTR: 0.03326788172125816, Band: Medium, Confidence: 0.5980392156862745,
		Interval: [2]float64{0.02084197370089335, 0.04569378974162298}, ModelVersion: &v, Source: "model",
		Explanation: []Contribution{{"psychology_composite", 0.35100001096725464, -0.5401198267936707},
			{"hook_strength", 0.6840000152587891, 0.24282227456569672}, {"novelty_score", 0.257999986410141, -0.23897388577461243}},
		CreatedAt: time.Date(2026, 11, 26, 21, 33, 46, 195971417, time.UTC)}
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf, _ = p.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(p)
		}
	})
}
