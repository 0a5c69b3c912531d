// Package demo makes realistic synthetic clips and outcomes so that a new
// user sees a spread of predictions and a trainer that learns something.
// Outcomes are drawn from a hidden CTR function plus binomial noise, so the
// best any model can do is known (TrueCTR).
package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"lift"
	"lift/bandit"
)

// Data is a generated history.
type Data struct {
	Clips    []*lift.Clip
	Outcomes []*lift.Outcome
}

// Generate returns n clips with 1-3 outcome windows each, from the seeded
// source r. Roughly one clip in ten lacks hook_strength, and one in twenty
// lacks emotion_data's priority, so the seed's defaults get exercised.
func Generate(r *rand.Rand, n int, now time.Time) *Data {
	d := &Data{}
	for i := range n {
		c := Clip(r, fmt.Sprintf("demo-%04d", i+1))
		d.Clips = append(d.Clips, c)
		ctr := TrueCTR(c.Features())
		windows := 1 + r.IntN(3)
		for w := range windows {
			impr := int64(math.Round(math.Exp(r.NormFloat64()*0.9 + 7.2))) // median ~1,300
			impr = max(impr, 20)
			d.Outcomes = append(d.Outcomes, &lift.Outcome{
				ClipID:      c.ID,
				Impressions: impr,
				Clicks:      Binomial(r, impr, ctr),
				ObservedAt:  now.Add(-time.Duration(windows-w) * 24 * time.Hour),
			})
		}
	}
	return d
}

// Clip draws one clip with plausible feature distributions.
func Clip(r *rand.Rand, id string) *lift.Clip {
	psych := bandit.BetaDraw(r, 5, 4)
	hook := bandit.BetaDraw(r, 2, 2)
	novelty := bandit.BetaDraw(r, 2, 3)
	priority := bandit.BetaDraw(r, 2, 5)
	duration := math.Round(min(max(math.Exp(r.NormFloat64()*0.6+3.2), 3), 180)*10) / 10
	c := &lift.Clip{
		ID:              id,
		PsychologyScore: map[string]any{"composite": round3(psych), "curiosity": round3(bandit.BetaDraw(r, 3, 3))},
		HookStrength:    map[string]any{"strength": round3(hook)},
		NoveltyScore:    map[string]any{"composite": round3(novelty)},
		EmotionData:     map[string]any{"priority_score": round3(priority), "has_face": r.Float64() < 0.6, "dominant": emotions[r.IntN(len(emotions))]},
		Duration:        duration,
	}
	if r.IntN(10) == 0 {
		delete(c.HookStrength, "strength")
	}
	if r.IntN(20) == 0 {
		delete(c.EmotionData, "priority_score")
	}
	composite := round3((psych + hook + novelty) / 3)
	c.CompositeScore = &composite
	return c
}

var emotions = []string{"joy", "surprise", "anger", "sadness", "fear", "neutral"}

// TrueCTR is the hidden CTR function: a logistic model with a duration
// sweet spot (15-40 s), a hook x novelty interaction and a face bonus.
// Values range from about 0.3% to 20%.
func TrueCTR(f lift.Features) float64 {
	z := -3.7 +
		2.4*(f.PsychologyComposite-0.5) +
		2.0*(f.HookStrength-0.5) +
		10*(f.HookStrength-0.5)*(f.NoveltyScore-0.4) +
		2.0*f.EmotionPriority +
		0.45*f.HasFace -
		0.8*math.Abs(math.Log(max(f.Duration, 1)/25))
	return 1 / (1 + math.Exp(-z))
}

// Binomial draws Binomial(n, p): exactly by inversion of waiting times for
// small means, by a rounded normal approximation otherwise.
func Binomial(r *rand.Rand, n int64, p float64) int64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	mean := float64(n) * p
	if mean < 30 {
		// Count successes via geometric gaps between them.
		var k, pos int64
		lq := math.Log1p(-p)
		for {
			gap := int64(math.Floor(math.Log(1-r.Float64())/lq)) + 1
			pos += gap
			if pos > n {
				return k
			}
			k++
		}
	}
	sd := math.Sqrt(mean * (1 - p))
	k := int64(math.Round(mean + sd*r.NormFloat64()))
	return min(max(k, 0), n)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
