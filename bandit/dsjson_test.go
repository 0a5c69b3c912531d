package bandit

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func MustReadDSJSON(tb testing.TB, text string) []LoggedEvent {
	tb.Helper()
	evs, err := ReadDSJSON(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("ReadDSJSON: %v", err)
	}
	return evs
}

func TestDSJSONRoundTrip(t *testing.T) {
	in := []LoggedEvent{
		{
			EventID: "e1", Timestamp: "2026-11-26T10:00:00Z",
			Event: Event{
				Context: Context{Features: map[string]float64{"age": 31, "device=ios": 1}},
				Actions: []Action{{ID: "red", Features: map[string]float64{"warm": 0.9}}, {ID: "blue"}, {ID: "green"}},
				Chosen:  2, Reward: 1, Probability: 0.25,
			},
			PMF: []float64{0.5, 0.25, 0.25}, Rewarded: true,
		},
		{
			EventID: "e2",
			Event: Event{
				Context: Context{Features: map[string]float64{"#0": 1.5, "#1": -2}},
				Actions: []Action{{ID: "1"}, {ID: "2"}},
				Chosen:  0, Probability: 0.9,
			},
			PMF: []float64{0.9, 0.1},
		},
		{
			EventID: "e3",
			Event: Event{
				Context: Context{Features: map[string]float64{"x": 0.125}},
				Actions: []Action{{ID: "a"}, {ID: "b"}},
				Chosen:  1, Reward: -0.5, Probability: 0.4,
			},
			PMF: []float64{0.6, 0.4}, Rewarded: true, SkipLearn: true,
		},
	}
	var buf bytes.Buffer
	for _, ev := range in {
		if err := WriteDSJSON(&buf, ev); err != nil {
			t.Fatal(err)
		}
	}
	out := MustReadDSJSON(t, buf.String())
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip changed the events:\n in  %+v\n out %+v\n%s", in, out, buf.String())
	}
	// The chosen action comes first in "a", VW's convention.
	if !strings.Contains(buf.String(), `"a":[3,1,2]`) {
		t.Errorf("first line's action order: %s", strings.SplitN(buf.String(), "\n", 2)[0])
	}
	// A dense context vector is written as "#i" features, its names in
	// the featurizer, so the same model scores it the same way.
	buf.Reset()
	ev := LoggedEvent{EventID: "v", Event: Event{Context: Context{Vector: []float64{3, 4}}, Actions: []Action{{ID: "a"}}, Probability: 1}, Rewarded: true}
	if err := WriteDSJSON(&buf, ev); err != nil {
		t.Fatal(err)
	}
	got := MustReadDSJSON(t, buf.String())[0].Context.Features
	if got["#0"] != 3 || got["#1"] != 4 {
		t.Errorf("vector read back as %v", got)
	}
}

func TestReadDSJSONVowpalWabbitLine(t *testing.T) {
	// A line as VW's decision service writes it, with namespaces, string
	// and boolean features, and fields Lift ignores.
	line := `{"_label_cost":-1,"_label_probability":0.8,"_label_Action":2,"_labelIndex":1,"o":[{"v":1}],"Timestamp":"2026-01-01T00:00:00.000Z","Version":"1","EventId":"abc","a":[2,1],"c":{"User":{"id":"u7","young":true,"score":0.5},"_multi":[{"_tag":"clip-a","Style":{"tone":"warm"}},{"_tag":"clip-b","len":12}]},"p":[0.8,0.2],"VWState":{"m":"x"}}` + "\n"
	ev := MustReadDSJSON(t, line)[0]
	if ev.EventID != "abc" || ev.Chosen != 1 || ev.Reward != 1 || ev.Probability != 0.8 || !ev.Rewarded {
		t.Fatalf("event = %+v", ev)
	}
	want := map[string]float64{"User^id=u7": 1, "User^young": 1, "User^score": 0.5}
	if !reflect.DeepEqual(ev.Context.Features, want) {
		t.Errorf("context = %v, want %v", ev.Context.Features, want)
	}
	if ev.Actions[0].ID != "clip-a" || ev.Actions[0].Features["Style^tone=warm"] != 1 || ev.Actions[1].Features["len"] != 12 {
		t.Errorf("actions = %+v", ev.Actions)
	}
	if !reflect.DeepEqual(ev.PMF, []float64{0.2, 0.8}) {
		t.Errorf("PMF = %v (in _multi order), want [0.2 0.8]", ev.PMF)
	}
}

func TestReadDSJSONErrors(t *testing.T) {
	const ok = `{"_label_cost":0,"_label_probability":0.5,"_label_Action":1,"EventId":"a","a":[1,2],"p":[0.5,0.5],"c":{"_multi":[{},{}]}}`
	tests := []struct{ name, line, want string }{
		{"not json", `{"EventId":`, "not a DSJSON object"},
		{"no context", `{"EventId":"a","a":[1],"p":[1]}`, `missing context`},
		{"no actions", `{"EventId":"a","c":{"x":1}}`, "no actions"},
		{"a p mismatch", `{"a":[1,2],"p":[1],"c":{"_multi":[{},{}]}}`, `"a" has 2 entries`},
		{"a out of range", `{"a":[3,1],"p":[0.5,0.5],"c":{"_multi":[{},{}]}}`, `"a"[0] = 3`},
		{"a repeated", `{"a":[1,1],"p":[0.5,0.5],"c":{"_multi":[{},{}]}}`, `"a"[1] = 1`},
		{"p not probability", `{"a":[1,2],"p":[1.5,-0.5],"c":{"_multi":[{},{}]}}`, `"p"[0]`},
		{"p sum", `{"a":[1,2],"p":[0.5,0.2],"c":{"_multi":[{},{}]}}`, "sums to"},
		{"label action range", `{"_label_cost":0,"_label_probability":0.5,"_label_Action":5,"c":{"_multi":[{},{}]}}`, `"_label_Action" 5`},
		{"label probability 0", `{"_label_cost":0,"_label_probability":0,"_label_Action":1,"c":{"_multi":[{},{}]}}`, `"_label_probability" 0`},
		{"no probability", `{"_label_cost":0,"_label_Action":1,"c":{"_multi":[{},{}]}}`, `without "_label_probability"`},
		{"no action", `{"_label_cost":0,"_label_probability":0.5,"c":{"_multi":[{},{}]}}`, `without "_label_Action"`},
		{"cost as string", `{"_label_cost":"x","c":{"_multi":[{}]}}`, "not a DSJSON object"},
		{"dup tags", `{"c":{"_multi":[{"_tag":"x"},{"_tag":"x"}]}}`, `"x" appears twice`},
		{"bad multi", `{"c":{"_multi":3}}`, `"_multi" is not an array`},
		// The chosen action named in ways that disagree.
		{"label and a disagree", `{"_label_cost":0,"_label_probability":0.5,"_label_Action":2,"a":[1,2],"p":[0.5,0.5],"c":{"_multi":[{},{}]}}`, `"a" starts with 1`},
		{"label and index disagree", `{"_label_cost":0,"_label_probability":0.5,"_label_Action":2,"_labelIndex":0,"c":{"_multi":[{},{}]}}`, `name different actions`},
		{"label probability not p[0]", `{"_label_cost":0,"_label_probability":0.9,"_label_Action":1,"a":[1,2],"p":[0.5,0.5],"c":{"_multi":[{},{}]}}`, `not the chosen action's "p"`},
		{"deep nesting", `{"c":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":1}}}}}}}}},"_multi":[{}]}}`, "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadDSJSON(strings.NewReader(ok + "\n" + tt.line + "\n"))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "line 2") {
				t.Fatalf("err = %v, want line 2 and %q", err, tt.want)
			}
		})
	}
}

func FuzzReadDSJSON(f *testing.F) {
	f.Add(`{"_label_cost":-1,"_label_probability":0.8,"_label_Action":2,"EventId":"abc","a":[2,1],"c":{"u":{"x":1},"_multi":[{"_tag":"a"},{"f":[1,2]}]},"p":[0.8,0.2]}`)
	f.Add(`{"c":{"_multi":[{}]},"a":[1],"p":[1]}` + "\n\n{}")
	f.Fuzz(func(t *testing.T, s string) {
		evs, err := ReadDSJSON(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, ev := range evs {
			if ev.Rewarded {
				if err := ev.Validate(); err != nil {
					t.Fatalf("accepted an invalid rewarded event: %v", err)
				}
			}
			if ev.PMF != nil && len(ev.PMF) != len(ev.Actions) {
				t.Fatalf("PMF of %d entries for %d actions", len(ev.PMF), len(ev.Actions))
			}
			// Whatever is read can be written and evaluated without panic.
			var buf bytes.Buffer
			if ev.Chosen >= 0 && ev.Chosen < len(ev.Actions) {
				if err := WriteDSJSON(&buf, ev); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, _ = Evaluate(evs, MustParsePolicy(t, "default"))
	})
}
