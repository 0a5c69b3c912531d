package bandit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// LoggedEvent is one line of a decision log: the decision's event id and
// time, its full PMF, and, when the reward has arrived, the Event to learn
// from.
type LoggedEvent struct {
	EventID   string `json:"event_id"`
	Timestamp string `json:"timestamp,omitempty"`
	Event
	// PMF is the logging policy's full distribution, in Actions' order
	// (nil when the log did not carry it).
	PMF []float64 `json:"pmf,omitempty"`
	// Rewarded says whether the reward (VW's label) is present. A line
	// without one is a decision whose outcome never arrived.
	Rewarded bool `json:"rewarded"`
	// SkipLearn mirrors DSJSON's _skipLearn: log it, but do not learn.
	SkipLearn bool `json:"skip_learn,omitempty"`
}

// maxDSJSONLine bounds one line so that a hostile log cannot exhaust memory.
const maxDSJSONLine = 32 << 20

// dsjsonLine is VW's decision service JSON, the fields Lift reads and
// writes. Costs are negated rewards (VW minimises cost).
type dsjsonLine struct {
	LabelCost        *float64        `json:"_label_cost,omitempty"`
	LabelProbability *float64        `json:"_label_probability,omitempty"`
	LabelAction      *int            `json:"_label_Action,omitempty"`
	LabelIndex       *int            `json:"_labelIndex,omitempty"`
	Timestamp        string          `json:"Timestamp,omitempty"`
	Version          string          `json:"Version,omitempty"`
	EventID          string          `json:"EventId"`
	A                []int           `json:"a"`
	C                json.RawMessage `json:"c"`
	P                []float64       `json:"p"`
	SkipLearn        bool            `json:"_skipLearn,omitempty"`
}

// ReadDSJSON reads a VW DSJSON log, one JSON object per line. Errors name
// the line and the field. Blank lines are skipped.
//
// The context "c" becomes named features: a number is a feature, a string
// s under key k is the indicator "k=s", true is the indicator k, and a
// nested object ns contributes "ns^k" (VW's namespaces). Keys starting
// with "_" are VW's own, except "_multi", the array of action objects; an
// action's id is its "_tag" or "id" string, else its 1-based position.
// The reward is -_label_cost.
func ReadDSJSON(r io.Reader) ([]LoggedEvent, error) {
	var out []LoggedEvent
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := readLine(br, maxDSJSONLine)
		if len(bytes.TrimSpace(b)) > 0 {
			ev, perr := parseDSJSON(b)
			if perr != nil {
				return nil, fmt.Errorf("dsjson line %d: %w", line, perr)
			}
			out = append(out, ev)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("dsjson line %d: %w", line, err)
		}
	}
}

// readLine reads one '\n'-terminated line of at most limit bytes.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > limit {
			return nil, fmt.Errorf("line longer than %d bytes", limit)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return buf, err
	}
}

func parseDSJSON(b []byte) (LoggedEvent, error) {
	var l dsjsonLine
	if err := json.Unmarshal(b, &l); err != nil {
		return LoggedEvent{}, fmt.Errorf("not a DSJSON object: %v", err)
	}
	ev := LoggedEvent{EventID: l.EventID, Timestamp: l.Timestamp, SkipLearn: l.SkipLearn}
	if len(l.C) == 0 || string(l.C) == "null" {
		return ev, errors.New(`missing context "c"`)
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(l.C, &c); err != nil {
		return ev, fmt.Errorf(`context "c" is not an object: %v`, err)
	}
	ev.Context.Features = map[string]float64{}
	for k, v := range c {
		if strings.HasPrefix(k, "_") {
			continue
		}
		if err := flattenJSON(ev.Context.Features, k, v, 0); err != nil {
			return ev, fmt.Errorf(`context "c": %w`, err)
		}
	}
	var multi []map[string]json.RawMessage
	if raw, ok := c["_multi"]; ok {
		if err := json.Unmarshal(raw, &multi); err != nil {
			return ev, fmt.Errorf(`"_multi" is not an array of objects: %v`, err)
		}
	}
	if len(multi) == 0 {
		return ev, errors.New(`no actions: "c._multi" is missing or empty`)
	}
	ev.Actions = make([]Action, len(multi))
	seen := map[string]bool{}
	for i, m := range multi {
		a := &ev.Actions[i]
		a.ID = strconv.Itoa(i + 1)
		for _, key := range []string{"_tag", "id"} {
			if raw, ok := m[key]; ok {
				var s string
				if json.Unmarshal(raw, &s) == nil && s != "" {
					a.ID = s
					break
				}
			}
		}
		if seen[a.ID] {
			return ev, fmt.Errorf("_multi[%d]: action id %q appears twice", i, a.ID)
		}
		seen[a.ID] = true
		for k, v := range m {
			if strings.HasPrefix(k, "_") || k == "id" {
				continue
			}
			if a.Features == nil {
				a.Features = map[string]float64{}
			}
			if err := flattenJSON(a.Features, k, v, 0); err != nil {
				return ev, fmt.Errorf("_multi[%d]: %w", i, err)
			}
		}
	}
	k := len(multi)
	if len(l.A) != len(l.P) {
		return ev, fmt.Errorf(`"a" has %d entries but "p" has %d`, len(l.A), len(l.P))
	}
	if len(l.A) > 0 {
		ev.PMF = make([]float64, k)
		used := make([]bool, k)
		var sum float64
		for i, a := range l.A {
			if a < 1 || a > k || used[a-1] {
				return ev, fmt.Errorf(`"a"[%d] = %d is not a distinct action 1..%d`, i, a, k)
			}
			used[a-1] = true
			p := l.P[i]
			if !(p >= 0 && p <= 1) {
				return ev, fmt.Errorf(`"p"[%d] = %v is not a probability`, i, p)
			}
			ev.PMF[a-1] = p
			sum += p
		}
		if math.Abs(sum-1) > 1e-3 {
			return ev, fmt.Errorf(`"p" sums to %v, not 1`, sum)
		}
	}
	if l.LabelCost == nil {
		if l.LabelAction != nil || l.LabelProbability != nil {
			return ev, errors.New(`"_label_Action" or "_label_probability" without "_label_cost"`)
		}
		// A decision without an outcome: the chosen action is a[0].
		ev.Chosen = 0
		if len(l.A) > 0 {
			ev.Chosen = l.A[0] - 1
			ev.Probability = l.P[0]
		}
		return ev, nil
	}
	ev.Rewarded = true
	if math.IsNaN(*l.LabelCost) || math.IsInf(*l.LabelCost, 0) {
		return ev, fmt.Errorf(`"_label_cost" %v is not finite`, *l.LabelCost)
	}
	ev.Reward = -*l.LabelCost
	if ev.Reward == 0 {
		ev.Reward = 0 // no negative zero in the output
	}
	switch {
	case l.LabelAction != nil:
		if *l.LabelAction < 1 || *l.LabelAction > k {
			return ev, fmt.Errorf(`"_label_Action" %d is not an action 1..%d`, *l.LabelAction, k)
		}
		ev.Chosen = *l.LabelAction - 1
	case l.LabelIndex != nil:
		if *l.LabelIndex < 0 || *l.LabelIndex >= k {
			return ev, fmt.Errorf(`"_labelIndex" %d is not an index 0..%d`, *l.LabelIndex, k-1)
		}
		ev.Chosen = *l.LabelIndex
	default:
		return ev, errors.New(`"_label_cost" without "_label_Action"`)
	}
	if l.LabelProbability == nil {
		return ev, errors.New(`"_label_cost" without "_label_probability"`)
	}
	ev.Probability = *l.LabelProbability
	if !(ev.Probability > 0 && ev.Probability <= 1) {
		return ev, fmt.Errorf(`"_label_probability" %v is not in (0, 1]`, ev.Probability)
	}
	// The line's ways of naming the chosen action must agree: a log
	// whose label says one action and whose "a" another would be weighed
	// by the wrong probability.
	if l.LabelAction != nil && l.LabelIndex != nil && *l.LabelIndex != *l.LabelAction-1 {
		return ev, fmt.Errorf(`"_labelIndex" %d and "_label_Action" %d name different actions`, *l.LabelIndex, *l.LabelAction)
	}
	if len(l.A) > 0 {
		if l.A[0]-1 != ev.Chosen {
			return ev, fmt.Errorf(`the label names action %d but "a" starts with %d (the chosen action comes first)`, ev.Chosen+1, l.A[0])
		}
		if math.Abs(l.P[0]-ev.Probability) > 1e-4 {
			return ev, fmt.Errorf(`"_label_probability" %v is not the chosen action's "p", %v`, ev.Probability, l.P[0])
		}
	}
	if err := ev.Validate(); err != nil {
		return ev, err
	}
	return ev, nil
}

// flattenJSON adds the features of the JSON value v under name to dst.
func flattenJSON(dst map[string]float64, name string, v json.RawMessage, depth int) error {
	if depth > 8 {
		return fmt.Errorf("feature %q is nested too deeply", name)
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil
	}
	switch v[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return fmt.Errorf("feature %q: %v", name, err)
		}
		for k, sub := range m {
			if strings.HasPrefix(k, "_") {
				continue
			}
			if err := flattenJSON(dst, name+"^"+k, sub, depth+1); err != nil {
				return err
			}
		}
	case '[':
		var arr []json.RawMessage
		if err := json.Unmarshal(v, &arr); err != nil {
			return fmt.Errorf("feature %q: %v", name, err)
		}
		for i, sub := range arr {
			if err := flattenJSON(dst, name+"["+strconv.Itoa(i)+"]", sub, depth+1); err != nil {
				return err
			}
		}
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("feature %q: %v", name, err)
		}
		dst[name+"="+s] = 1
	case 't':
		dst[name] = 1
	case 'f', 'n':
		// false and null are absent features.
	default:
		var f float64
		if err := json.Unmarshal(v, &f); err != nil {
			return fmt.Errorf("feature %q: %v", name, err)
		}
		dst[name] = f
	}
	return nil
}

// WriteDSJSON writes ev as one DSJSON line: "a" lists the actions with the
// chosen one first and the rest by decreasing probability, "p" their
// probabilities; context features are written flat under "c" with
// dense vector entry i as "#i", and actions under "c._multi" with their id
// as "_tag". Without a PMF, "p" has the chosen action's probability
// and the rest share what remains equally.
func WriteDSJSON(w io.Writer, ev LoggedEvent) error {
	k := len(ev.Actions)
	if k == 0 || ev.Chosen < 0 || ev.Chosen >= k {
		return fmt.Errorf("dsjson: event %q has no valid chosen action", ev.EventID)
	}
	pmf := ev.PMF
	if len(pmf) != k {
		pmf = make([]float64, k)
		for i := range pmf {
			if i == ev.Chosen {
				pmf[i] = ev.Probability
			} else {
				pmf[i] = (1 - ev.Probability) / float64(k-1)
			}
		}
	}
	order := make([]int, 0, k)
	for i := range k {
		if i != ev.Chosen {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(x, y int) bool { return pmf[order[x]] > pmf[order[y]] })
	order = slices.Insert(order, 0, ev.Chosen)
	l := dsjsonLine{EventID: ev.EventID, Timestamp: ev.Timestamp, Version: "1", SkipLearn: ev.SkipLearn}
	for _, i := range order {
		l.A = append(l.A, i+1)
		l.P = append(l.P, pmf[i])
	}
	if ev.Rewarded {
		cost := -ev.Reward
		if cost == 0 {
			cost = 0
		}
		act, idx, prob := ev.Chosen+1, ev.Chosen, ev.Probability
		l.LabelCost, l.LabelAction, l.LabelIndex, l.LabelProbability = &cost, &act, &idx, &prob
	}
	c := map[string]any{}
	for i, v := range ev.Context.Vector {
		c["#"+strconv.Itoa(i)] = v
	}
	for name, v := range ev.Context.Features {
		c[name] = v
	}
	multi := make([]map[string]any, k)
	for i, a := range ev.Actions {
		m := map[string]any{"_tag": a.ID}
		for name, v := range a.Features {
			m[name] = v
		}
		multi[i] = m
	}
	c["_multi"] = multi
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("dsjson: event %q: %w", ev.EventID, err)
	}
	l.C = raw
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("dsjson: event %q: %w", ev.EventID, err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
