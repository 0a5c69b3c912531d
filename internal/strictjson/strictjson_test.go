package strictjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

type inner struct {
	X float64 `json:"x"`
}

type outer struct {
	Duration *float64       `json:"duration"`
	Name     string         // no tag: the Go name is the JSON name
	In       inner          `json:"in"`
	M        map[string]any `json:"m"`
	L        []inner        `json:"l"`
	T        time.Time      `json:"t"`
	Skip     int            `json:"-"`
	inner    `json:"-"`
}

func TestCheck(t *testing.T) {
	typ := reflect.TypeFor[*outer]()
	for _, tc := range []struct {
		data string
		typ  reflect.Type
		want string // "" for no error, else a part of the message
	}{
		{`{"duration":1,"Name":"a","in":{"x":1},"m":{"A":1,"a":2},"l":[{"x":1}],"t":"2020-01-01T00:00:00Z"}`, typ, ""},
		{`{"duration":1,"duration":2}`, typ, `key "duration" appears more than once`},
		{`{"DURATION":1}`, typ, `field "DURATION" is not known (names are case-sensitive: "duration")`},
		{`{"name":"a"}`, typ, `field "name" is not known (names are case-sensitive: "Name")`},
		{`{"in":{"X":1}}`, typ, `field "in.X" is not known (names are case-sensitive: "in.x")`},
		{`{"m":{"a":1,"a":2}}`, typ, `key "m.a" appears more than once`},
		{`{"m":{"a":{"B":1}}}`, typ, ""}, // inside a map of any, keys are free
		{`{"l":[{"x":1},{"X":2}]}`, typ, `field "l[1].X" is not known`},
		{`{"l":[{"x":1},{"x":2,"x":3}]}`, typ, `key "l[1].x" appears more than once`},
		{`{"a":{"b":1,"b":2}}`, nil, `key "a.b" appears more than once`},
		{`[1,{"a":1,"a":1}]`, nil, `key "[1].a" appears more than once`},
		{`{"A":1,"a":1}`, nil, ""},
		{"{\"\xff\":1,\"\xfe\":2}", nil, "appears more than once"}, // both decode to U+FFFD
		{`{"\u00e9":1,"é":2}`, nil, "appears more than once"},
		{`"text"`, typ, ""},
	} {
		err := Check([]byte(tc.data), tc.typ)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%s) = %v, want no error", tc.data, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Check(%s) = %v, want an error with %q", tc.data, err, tc.want)
		}
	}
}

// repeatedKey is the reference for Check with no type: the first key
// repeated within an object, found with encoding/json's tokens.
func repeatedKey(data []byte) (bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() (bool, error)
	walk = func() (bool, error) {
		tok, err := dec.Token()
		if err != nil {
			return false, err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false, err
				}
				if seen[k.(string)] {
					return true, nil
				}
				seen[k.(string)] = true
				if rep, err := walk(); rep || err != nil {
					return rep, err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if rep, err := walk(); rep || err != nil {
					return rep, err
				}
			}
			_, err = dec.Token()
		}
		return false, err
	}
	return walk()
}

// FuzzCheck: on any valid JSON, Check finds a repeated key exactly when
// the token-by-token reference does, and never panics.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `{"a\u0062":1,"ab":2}`, `[{"x":"}\"{"},{"x":1}]`,
		`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":0,"k11":1,"k12":2,"k13":3,"k14":4,"k15":5,"k16":6,"k3":7}`,
		` { "a" : [ 1 , 2 ] , "b" : null } `, `"text"`, `12`, "{\"\xff\":1,\"\xfe\":2}",
		`{"a":"\ud800"}`, `{"a":"\ud83d\ude00","b":"\\udc00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		want, err := repeatedKey(data)
		if err != nil {
			t.Fatalf("reference on valid JSON %q: %v", data, err)
		}
		want = want || loneSurrogate(data)
		got := Check(data, nil)
		if (got != nil) != want {
			t.Errorf("Check(%q) = %v, reference repeated = %v", data, got, want)
		}
	})
}

// BenchmarkCheck: the check on bodies of the hot routes (a reward, a
// decide with a context, inline features), against the token-by-token
// reference, which the first version of Check was.
func BenchmarkCheck(b *testing.B) {
	bodies := map[string]string{
		"reward":  `{"event_id":"0190f3c2-7d1e-7a3b-9c4d-5e6f7a8b9c0d","reward":1}`,
		"decide":  `{"context":{"age":31,"hour":14,"mobile":1,"returning":0},"exclude":["red"]}`,
		"predict": `{"features":{"psychology_composite":0.6,"hook_strength":0.7,"novelty_score":0.4,"emotion_priority":0.5,"duration":31,"has_face":true}}`,
	}
	for name, body := range bodies {
		data := []byte(body)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Check(data, reflect.TypeFor[*outer]()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/tokens", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				repeatedKey(data)
			}
		})
	}
}

// TestFoldedNames: every key that encoding/json takes for a field without
// being its exact name is refused, beyond ASCII case too ("ſ" folds to
// "s", the Kelvin sign to "k"), so that no spelling can set a
// field twice or slip in under another name.
func TestFoldedNames(t *testing.T) {
	type outcome struct {
		Impressions *int64 `json:"impressions"`
		Clicks      *int64 `json:"clicks"`
	}
	typ := reflect.TypeFor[*outcome]()
	for _, data := range []string{
		`{"impreſſions":10,"clicks":1}`,
		`{"impressions":10,"clicks":1,"impreſſions":1000}`,
		"{\"impressions\":10,\"clic\u212as\":1}",
		`{"IMPRESSIONS":10}`,
	} {
		var v outcome
		dec := json.NewDecoder(strings.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("encoding/json refused %s (%v): the case tests nothing", data, err)
		}
		if err := Check([]byte(data), typ); err == nil || !strings.Contains(err.Error(), "is not known") {
			t.Errorf("Check(%s) = %v, want an unknown field", data, err)
		}
	}
	if err := Check([]byte(`{"impressions":10,"clicks":1}`), typ); err != nil {
		t.Errorf("exact names: %v", err)
	}
}

// escapes matches JSON's escapes one at a time, a surrogate pair as one:
// group 1 a high half with its low half in group 2, group 3 a low half
// alone. In valid JSON a backslash is only ever in a string.
var escapes = regexp.MustCompile(`(?i)\\u(d[89ab][0-9a-f]{2})(\\ud[c-f][0-9a-f]{2})?|\\u(d[c-f][0-9a-f]{2})|\\.`)

// loneSurrogate is the reference for Check's refusal of half a surrogate
// pair: a regular expression over the raw escapes.
func loneSurrogate(data []byte) bool {
	for _, m := range escapes.FindAllSubmatchIndex(data, -1) {
		if m[2] >= 0 && m[4] < 0 || m[6] >= 0 {
			return true
		}
	}
	return false
}

// TestLoneSurrogates: a \u escape of half a UTF-16 surrogate pair, alone,
// is refused, in keys and values: the decoder reads any such half as
// U+FFFD, so that two different ids would be one. Pairs pass.
func TestLoneSurrogates(t *testing.T) {
	for data, bad := range map[string]bool{
		`{"id":"\ud800"}`:              true,
		`{"id":"\udbff"}`:              true,
		`{"id":"a\udc00b"}`:            true,
		`{"id":"\ud800\u0041"}`:        true,
		`{"id":"\ud800\ud800"}`:        true,
		`{"x":["ok","\ud83d"]}`:        true,
		`{"\udfff":1}`:                 true,
		`"\ud800"`:                     true,
		`{"id":"\ud83d\ude00"}`:        false,
		`{"id":"\\ud800"}`:             false, // an escaped backslash, then text
		`{"id":"\u00e9\ud83d\ude00x"}`: false,
		`{"id":"\ufffd"}`:              false,
	} {
		err := Check([]byte(data), nil)
		if bad != (err != nil) || bad != loneSurrogate([]byte(data)) {
			t.Errorf("Check(%s) = %v, reference %v, want an error: %v", data, err, loneSurrogate([]byte(data)), bad)
		}
		var v any
		if json.Unmarshal([]byte(data), &v) != nil {
			t.Errorf("%s is not JSON: the case tests nothing", data)
		}
	}
}
