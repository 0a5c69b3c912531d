package dataset

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

func MustReadVWMulticlass(tb testing.TB, text string) *Multiclass {
	tb.Helper()
	m, err := ReadVWMulticlass(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("ReadVWMulticlass: %v", err)
	}
	return m
}

func TestReadVWMulticlass(t *testing.T) {
	m := MustReadVWMulticlass(t, "2 |x f0:3 f2:1.5\n\n1 2.0 'tag |x f1 f0:-1 | g:2\n3 0.5 -0.25 tag|x\n")
	if m.Rows != 3 || m.Cols != 4 || m.K != 3 {
		t.Fatalf("shape = %d x %d, K %d; want 3 x 4, K 3", m.Rows, m.Cols, m.K)
	}
	wantNames := []string{"x^f0", "x^f2", "x^f1", "g"}
	for i, n := range wantNames {
		if m.Names[i] != n {
			t.Errorf("Names[%d] = %q, want %q", i, m.Names[i], n)
		}
	}
	want := [][]float64{{3, 1.5, 0, 0}, {-1, 0, 1, 2}, {0, 0, 0, 0}}
	for i, w := range want {
		for j, v := range w {
			if got := m.Row(i)[j]; got != v {
				t.Errorf("row %d col %d = %v, want %v", i, j, got, v)
			}
		}
	}
	if m.Label[0] != 2 || m.Label[1] != 1 || m.Label[2] != 3 {
		t.Errorf("labels = %v", m.Label)
	}
}

func TestReadVWMulticlassErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"no bar", "1 f0:1\n", "line 1"},
		{"zero label", "1 |x a:1\n0 |x a:1\n", "line 2"},
		{"text label", "A |x a:1\n", `label "A"`},
		{"nan value", "1 |x a:NaN\n", `feature "a"`},
		{"bad value", "1 |x a:1:z\n", `"z"`},
		{"bad weight", "1 -3 |x a:1\n", "weight"},
		{"missing label", " |x a:1\n", "missing label"},
		{"empty", "\n\n", "no examples"},
		{"ns scale", "1 |x:2 a:1\n", "namespace"},
		{"huge label", "1 |x a:1\n1000000000 |x a:2\n", "largest class number"},
		{"a tag touching the bar is no label", "1 |x a:1\n2|x a:2\n", "line 2: missing label"},
		{"a tag first", "'t 1 |x a:1\n", "tag \"'t\" comes before"},
		{"too many fields", "1 2 3 4 |x a:1\n", "more fields before '|'"},
		{"bad base", "1 2 b |x a:1\n", `base "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadVWMulticlass(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestReadVWMulticlassShared(t *testing.T) {
	const path = "/work/shared/data/bandit/pendigits.vw.gz"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skip("shared data not present")
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ReadVWMulticlass(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 10992 || m.Cols != 16 || m.K != 10 {
		t.Fatalf("pendigits shape = %d x %d, K %d; want 10992 x 16, K 10", m.Rows, m.Cols, m.K)
	}
}

func FuzzReadVWMulticlass(f *testing.F) {
	f.Add("2 |x f0:3 f2:1.5\n1 |x f1\n")
	f.Add("1 2 'a |x a:1 |y b:2\n")
	f.Add("0.5 2 'a |x f10:1 f2 | g:-1\n|x a\n")
	f.Fuzz(func(t *testing.T, s string) {
		// ReadVW reads what the bandit's reader reads, with any label.
		for _, noLabel := range []bool{false, true} {
			d, err := ReadVW(strings.NewReader(s), noLabel)
			if err != nil {
				continue
			}
			if len(d.X) != d.Rows*d.Cols || len(d.Names) != d.Cols || (!noLabel && len(d.Label) != d.Rows) ||
				(d.Weight != nil && len(d.Weight) != d.Rows) {
				t.Fatalf("ReadVW(noLabel %v): inconsistent shape", noLabel)
			}
			if !slices.IsSortedFunc(d.Names, naturalCompare) {
				t.Fatalf("ReadVW: names out of order: %q", d.Names)
			}
		}
		m, err := ReadVWMulticlass(strings.NewReader(s))
		if err != nil {
			return
		}
		if len(m.X) != m.Rows*m.Cols || len(m.Label) != m.Rows {
			t.Fatalf("inconsistent shape")
		}
		if _, err := ReadVW(strings.NewReader(s), false); err != nil {
			t.Fatalf("ReadVWMulticlass reads it, ReadVW does not: %v", err)
		}
	})
}

func TestReadVW(t *testing.T) {
	text := "0.5 |x f10:1 f2:3\n\n-1 2 'tag |x f2 f2:0.5 | g:2\n3 |x\n"
	d, err := ReadVW(strings.NewReader(text), false)
	if err != nil {
		t.Fatal(err)
	}
	// Natural order by name: the default namespace's g, then x^f2 before x^f10.
	wantNames := []string{"g", "x^f2", "x^f10"}
	if !slices.Equal(d.Names, wantNames) || d.Rows != 3 || d.Cols != 3 || !d.AbsentIsZero {
		t.Fatalf("names %v, shape %d x %d, absent-is-zero %v; want %v, 3 x 3, true", d.Names, d.Rows, d.Cols, d.AbsentIsZero, wantNames)
	}
	want := [][]float32{{0, 3, 1}, {2, 1.5, 0}, {0, 0, 0}}
	for i, w := range want {
		if !slices.Equal(d.Row(i), w) {
			t.Errorf("row %d = %v, want %v", i, d.Row(i), w)
		}
	}
	if !slices.Equal(d.Label, []float32{0.5, -1, 3}) {
		t.Errorf("labels = %v", d.Label)
	}
	if !slices.Equal(d.Weight, []float32{1, 2, 1}) {
		t.Errorf("weights = %v", d.Weight)
	}

	// Unweighted: no weights; without labels: read for prediction.
	d, err = ReadVW(strings.NewReader("|x a:1\n'only-a-tag |x b:2\n"), true)
	if err != nil {
		t.Fatal(err)
	}
	if d.Label != nil || d.Weight != nil || d.Rows != 2 {
		t.Errorf("unlabelled read: labels %v, weights %v, rows %d", d.Label, d.Weight, d.Rows)
	}
	if _, err := ReadVW(strings.NewReader("1 |x a:1\n|x a:1\n"), false); err == nil || !strings.Contains(err.Error(), "line 2: missing label") {
		t.Errorf("a line without a label: err = %v", err)
	}
	for _, tt := range []struct{ text, want string }{
		{"inf |x a:1\n", `line 1: label "inf"`},
		{"1 |x a:1\n1e39 |x a:1\n", `line 2: label "1e39"`},
		{"1 1e39 |x a:1\n", "line 1: importance weight 1e+39"},
		{"1 |x a:3e38 a:3e38\n", `line 1: feature "x^a" adds up to 6e+38`},
		{"1 |x a:1e39\n", `line 1: feature "x^a"`},
	} {
		if _, err := ReadVW(strings.NewReader(tt.text), false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ReadVW(%q): err = %v, want it to mention %q", tt.text, err, tt.want)
		}
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"f10", "b", "f2", "f01", "f1", "a^f3", "f", "a^f20", "f1x"}
	slices.SortFunc(names, naturalCompare)
	want := []string{"a^f3", "a^f20", "b", "f", "f1", "f01", "f1x", "f2", "f10"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted = %v, want %v", names, want)
	}
}

func TestReadVWTooLarge(t *testing.T) {
	// Every line names a new feature: the dense matrix grows as the square.
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "1 |x f%d:1\n", i)
	}
	if _, err := ReadVW(strings.NewReader(b.String()), false); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("20,000 x 20,000 cells: err = %v", err)
	}
}
