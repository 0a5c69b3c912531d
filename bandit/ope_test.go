package bandit

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// tablePolicy is a fixed policy for OPE tests: its PMF is looked up by
// the context feature "row" (or row 0), and it never learns.
type tablePolicy struct{ pmf [][]float64 }

func (p tablePolicy) Name() string { return "table" }
func (p tablePolicy) PMF(ctx Context, actions []Action) ([]float64, error) {
	row := p.pmf[int(ctx.Features["row"])]
	if len(row) != len(actions) {
		return nil, errors.New("table: wrong number of actions")
	}
	return append([]float64(nil), row...), nil
}
func (p tablePolicy) Learn(Event) error         { return nil }
func (p tablePolicy) Snapshot() ([]byte, error) { return nil, nil }
func (p tablePolicy) Restore([]byte) error      { return nil }

func TestEvaluateKnownValue(t *testing.T) {
	// Context x in {0, 1} (feature "row"); click probabilities depend on
	// it. The logging policy's PMF is known and different from the target
	// policy's; the target's true value is computed exactly.
	means := [][]float64{{0.2, 0.5, 0.7}, {0.6, 0.3, 0.1}}
	logging := tablePolicy{[][]float64{{0.5, 0.3, 0.2}, {0.2, 0.3, 0.5}}}
	target := tablePolicy{[][]float64{{0.1, 0.2, 0.7}, {0.8, 0.1, 0.1}}}
	var truth float64
	for x := range 2 {
		for a := range 3 {
			truth += 0.5 * target.pmf[x][a] * means[x][a]
		}
	}
	acts := []Action{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	rng := rand.New(rand.NewPCG(5, 5))
	const n = 20000
	logs := make([]LoggedEvent, n)
	var ss float64 // for the IPS standard error
	for i := range logs {
		x := rng.IntN(2)
		ctx := Context{Features: map[string]float64{"row": float64(x)}}
		d, err := Decide(logging, strconv.Itoa(i), ctx, acts, 9)
		if err != nil {
			t.Fatal(err)
		}
		var r float64
		if rng.Float64() < means[x][d.Index] {
			r = 1
		}
		logs[i] = LoggedEvent{EventID: strconv.Itoa(i), Event: Event{Context: ctx, Actions: acts, Chosen: d.Index, Reward: r, Probability: d.Probability}, Rewarded: true}
		w := target.pmf[x][d.Index] / d.Probability
		ss += (w * r) * (w * r)
	}
	est, err := Evaluate(logs, target)
	if err != nil {
		t.Fatal(err)
	}
	if est.N != n {
		t.Fatalf("N = %d, want %d", est.N, n)
	}
	se := math.Sqrt((ss/n - est.IPS*est.IPS) / n)
	for name, v := range map[string]float64{"IPS": est.IPS, "SNIPS": est.SNIPS, "DR": est.DR} {
		if math.Abs(v-truth) > 4*se {
			t.Errorf("%s = %.4f, true value %.4f (4 s.e. = %.4f)", name, v, truth, 4*se)
		}
	}
	if math.Abs(est.MeanWeight-1) > 0.05 {
		t.Errorf("mean importance weight %.3f, want about 1", est.MeanWeight)
	}
	// The logging policy evaluated on its own logs is the on-policy mean.
	self, err := Evaluate(logs, logging)
	if err != nil {
		t.Fatal(err)
	}
	var onPolicy float64
	for _, l := range logs {
		onPolicy += l.Reward / n
	}
	if math.Abs(self.IPS-onPolicy) > 1e-9 || math.Abs(self.SNIPS-onPolicy) > 1e-9 {
		t.Errorf("logging policy on its own logs: IPS %.6f SNIPS %.6f, on-policy mean %.6f", self.IPS, self.SNIPS, onPolicy)
	}
}

func TestEvaluateErrors(t *testing.T) {
	acts := []Action{{ID: "a"}, {ID: "b"}}
	uniform := tablePolicy{[][]float64{{0.5, 0.5}}}
	if _, err := Evaluate(nil, uniform); err == nil {
		t.Error("empty logs accepted")
	}
	bad := []LoggedEvent{{Event: Event{Actions: acts, Chosen: 0, Probability: 0}, Rewarded: true}}
	if _, err := Evaluate(bad, uniform); err == nil {
		t.Error("probability 0 accepted")
	}
	unrewarded := []LoggedEvent{{Event: Event{Actions: acts, Chosen: 0, Probability: 0.5}}}
	if _, err := Evaluate(unrewarded, uniform); err == nil {
		t.Error("logs without a single reward accepted")
	}
	noPMF := []LoggedEvent{{Event: Event{Actions: acts, Chosen: 0, Probability: 0.5, Reward: 1}, Rewarded: true}}
	if _, err := EvaluateWith(noPMF, nil, EvalOptions{Logged: true}); err == nil || !strings.Contains(err.Error(), "no logged PMF") {
		t.Errorf("Logged without PMFs: %v", err)
	}
}

// TestEvaluateLogged: scored with its own logged PMFs, a policy's IPS and
// SNIPS are its logs' mean reward, whatever the PMFs were.
func TestEvaluateLogged(t *testing.T) {
	acts := []Action{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	var logs []LoggedEvent
	sum := 0.0
	for i := range 50 {
		pmf := []float64{0.7, 0.2, 0.1}
		chosen := i % 3
		r := float64(i%4) / 3
		sum += r
		logs = append(logs, LoggedEvent{Event: Event{Actions: acts, Chosen: chosen, Probability: pmf[chosen], Reward: r}, PMF: pmf, Rewarded: true})
	}
	est, err := EvaluateWith(logs, nil, EvalOptions{Logged: true, Learn: true})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(est.IPS-sum/50) > 1e-12 || math.Abs(est.SNIPS-sum/50) > 1e-12 || math.Abs(est.MeanWeight-1) > 1e-12 {
		t.Errorf("IPS %v SNIPS %v mean weight %v, want %v, %v, 1", est.IPS, est.SNIPS, est.MeanWeight, sum/50, sum/50)
	}
}

// obdRows reads one Open Bandit Dataset sample file: item, position,
// click and propensity of each impression.
func obdRows(tb testing.TB, path string) (item, pos []int, click, prop []float64) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("shared OBD data: %v", err)
		}
		tb.Skipf("shared OBD data not present: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	recs, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, r := range recs[1:] {
		it, err1 := strconv.Atoi(r[col["item_id"]])
		ps, err2 := strconv.Atoi(r[col["position"]])
		c, err3 := strconv.ParseFloat(r[col["click"]], 64)
		p, err4 := strconv.ParseFloat(r[col["propensity_score"]], 64)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			tb.Fatal(err)
		}
		item, pos, click, prop = append(item, it), append(pos, ps), append(click, c), append(prop, p)
	}
	return
}

// TestEvaluateOpenBanditDataset is the OBD protocol of Saito et al.: the
// Bernoulli Thompson sampling policy's CTR, estimated from the logs of the
// uniform-random policy, must agree with the CTR it earned on-policy.
// The BTS policy is its empirical action distribution per position in its
// own logs. Clicks are rare (about 50 per 10,000 impressions), so the
// tolerance is 3 standard errors of the difference.
func TestEvaluateOpenBanditDataset(t *testing.T) {
	for _, campaign := range []string{"men", "women"} {
		t.Run(campaign, func(t *testing.T) {
			dir := "/work/shared/data/"
			bItem, bPos, bClick, _ := obdRows(t, dir+"obd_bts_"+campaign+".csv.gz")
			rItem, rPos, rClick, rProp := obdRows(t, dir+"obd_random_"+campaign+".csv.gz")
			k := 0
			for _, it := range append(bItem, rItem...) {
				k = max(k, it+1)
			}
			// π_bts(item | position) and the on-policy CTR with its s.e.
			pmf := make([][]float64, 4)
			for i := range pmf {
				pmf[i] = make([]float64, k)
			}
			var onPolicy float64
			for i, it := range bItem {
				pmf[bPos[i]][it]++
				onPolicy += bClick[i]
			}
			nb := float64(len(bItem))
			onPolicy /= nb
			seOn := math.Sqrt(onPolicy * (1 - onPolicy) / nb)
			for _, row := range pmf[1:] {
				var s float64
				for _, v := range row {
					s += v
				}
				for a := range row {
					row[a] /= s
				}
			}
			acts := make([]Action, k)
			for a := range acts {
				acts[a].ID = strconv.Itoa(a)
			}
			logs := make([]LoggedEvent, len(rItem))
			var ss float64
			for i := range rItem {
				logs[i] = LoggedEvent{
					Event: Event{
						Context: Context{Features: map[string]float64{"row": float64(rPos[i])}},
						Actions: acts, Chosen: rItem[i], Reward: rClick[i], Probability: rProp[i],
					},
					Rewarded: true,
				}
				w := pmf[rPos[i]][rItem[i]] / rProp[i]
				ss += w * rClick[i] * w * rClick[i]
			}
			est, err := Evaluate(logs, tablePolicy{pmf})
			if err != nil {
				t.Fatal(err)
			}
			n := float64(est.N)
			seIPS := math.Sqrt((ss/n - est.IPS*est.IPS) / n)
			tol := 3 * math.Hypot(seOn, seIPS)
			t.Logf("on-policy CTR %.5f ± %.5f; from random logs IPS %.5f SNIPS %.5f DR %.5f (± %.5f)", onPolicy, seOn, est.IPS, est.SNIPS, est.DR, seIPS)
			for name, v := range map[string]float64{"IPS": est.IPS, "SNIPS": est.SNIPS, "DR": est.DR} {
				if math.Abs(v-onPolicy) > tol {
					t.Errorf("%s estimate %.5f, on-policy CTR %.5f (tolerance %.5f)", name, v, onPolicy, tol)
				}
			}
			// The uniform policy's own value from its logs is its CTR.
			if math.Abs(est.MeanWeight-1) > 0.1 {
				t.Errorf("mean weight %.3f: the BTS table is not supported by the random logs", est.MeanWeight)
			}
		})
	}
}

// TestEvaluateClampsTheRewardModel: one context value far beyond the
// others (a timestamp among hours) must not make the reward model's
// estimates, and with them DM and DR, leave the rewards' range; and a
// done context stops the evaluation.
func TestEvaluateClampsTheRewardModel(t *testing.T) {
	acts := []Action{{ID: "a"}, {ID: "b"}}
	var logs []LoggedEvent
	for i := 1; i <= 6; i++ {
		ctx := Context{Features: map[string]float64{"hour": float64(8 + i)}}
		logs = append(logs, LoggedEvent{EventID: strconv.Itoa(i), Rewarded: true,
			Event: Event{Context: ctx, Actions: acts, Chosen: i % 2, Reward: float64(i % 2), Probability: 0.5}})
	}
	far := Context{Features: map[string]float64{"hour": 1e15}}
	logs = append(logs, LoggedEvent{EventID: "7", Rewarded: true, Event: Event{Context: far, Actions: acts, Chosen: 0, Reward: 1, Probability: 0.5}})
	uniform, err := ParsePolicy("epsilon-greedy:1")
	if err != nil {
		t.Fatal(err)
	}
	est, err := Evaluate(logs, uniform)
	if err != nil {
		t.Fatal(err)
	}
	// Rewards are in [0, 1]: DM is an average of estimates within it, and
	// DR adds weighted residuals (weights 1 here) of at most 1 each way.
	if est.DM < 0 || est.DM > 1 || est.DR < -1 || est.DR > 2 {
		t.Errorf("DM %v, DR %v: the reward model left the rewards' range", est.DM, est.DR)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EvaluateWith(logs, uniform, EvalOptions{Context: done}); !errors.Is(err, context.Canceled) {
		t.Errorf("evaluation under a done context = %v, want context.Canceled", err)
	}
}
