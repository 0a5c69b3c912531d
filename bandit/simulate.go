package bandit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"lift/dataset"
)

// SimResult is the outcome of Simulate.
type SimResult struct {
	Rounds int `json:"rounds"`
	// Loss is 1 - Reward: VW's progressive validation loss of the played
	// actions.
	Loss float64 `json:"loss"`
	// Reward is the mean reward of the played actions.
	Reward float64 `json:"reward"`
	// Seconds is the wall time spent in decide and learn.
	Seconds float64 `json:"seconds"`
}

// Simulate runs VW's --cbify protocol: each row of data, in the given order
// of row indices (nil = file order), is one round whose context is the
// row's features and whose actions are the K classes (ids "1".."K"); the
// action is sampled from p's PMF by Decide with the round number as event
// id and seed as seed; the reward is 1 for the true class, else 0; and p
// learns from (context, action, reward, the probability used).
func Simulate(ctx context.Context, p Policy, data *dataset.Multiclass, order []int, seed uint64) (SimResult, error) {
	if data.K < 1 || data.Rows < 1 {
		return SimResult{}, fmt.Errorf("simulate: no rows or classes")
	}
	actions := make([]Action, data.K)
	for i := range actions {
		actions[i].ID = strconv.Itoa(i + 1)
	}
	n := data.Rows
	if order != nil {
		n = len(order)
	}
	var reward float64
	start := time.Now()
	for t := 0; t < n; t++ {
		if t%1024 == 0 && ctx.Err() != nil {
			return SimResult{}, ctx.Err()
		}
		row := t
		if order != nil {
			row = order[t]
		}
		c := Context{Vector: data.Row(row)}
		d, err := Decide(p, strconv.Itoa(t), c, actions, seed)
		if err != nil {
			return SimResult{}, fmt.Errorf("simulate: round %d (row %d): %w", t+1, row+1, err)
		}
		var r float64
		if d.Index+1 == data.Label[row] {
			r = 1
		}
		reward += r
		if err := p.Learn(Event{Context: c, Actions: actions, Chosen: d.Index, Reward: r, Probability: d.Probability}); err != nil {
			return SimResult{}, fmt.Errorf("simulate: round %d (row %d): %w", t+1, row+1, err)
		}
	}
	mean := reward / float64(n)
	return SimResult{Rounds: n, Loss: 1 - mean, Reward: mean, Seconds: time.Since(start).Seconds()}, nil
}

// ShuffledOrder returns a permutation of 0..n-1 by Lift's own seeded
// Fisher–Yates shuffle (PCG). It is not Python's random.shuffle: the VW
// benchmark orders are produced by bench/bandit.sh with Python itself.
func ShuffledOrder(n int, seed uint64) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x6c696674))
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}
