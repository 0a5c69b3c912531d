package strictjson

import (
	"reflect"
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
