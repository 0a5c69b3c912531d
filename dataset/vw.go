package dataset

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Multiclass is a dense multiclass data set read from Vowpal Wabbit text:
// one row per example, a class label in 1..K and float64 features.
// A feature absent from a line is 0, as VW treats it (VW text omits zeros).
type Multiclass struct {
	Rows, Cols int
	// K is the number of classes: the largest label seen.
	K int
	// X holds Rows*Cols values; row i is X[i*Cols : (i+1)*Cols].
	X []float64
	// Label holds each row's class, 1-based as VW writes it (1..K).
	Label []int
	// Names holds each column's feature name, "namespace^feature" (or just
	// "feature" for the default namespace), in order of first appearance.
	Names []string
}

// Row returns row i's feature values (a view, not a copy).
func (m *Multiclass) Row(i int) []float64 { return m.X[i*m.Cols : (i+1)*m.Cols] }

// maxVWLine bounds one line so that a hostile file cannot exhaust memory.
const maxVWLine = 16 << 20

// MaxVWClasses is the largest class label ReadVWMulticlass accepts.
const MaxVWClasses = 1 << 16

// vwFeature is one feature of a VW line: its column and value.
type vwFeature struct {
	col int
	v   float64
}

// vwExample is one VW line: its label token ("" when the line has none),
// its importance weight (1 when none is written) and its features.
type vwExample struct {
	line     int
	label    string
	weight   float64
	features []vwFeature
}

// vwText is a VW text file read into examples, with its feature names
// ("namespace^feature", or "feature" in the default namespace) by column,
// in order of first appearance.
type vwText struct {
	examples []vwExample
	names    []string
}

// readVW reads VW text: lines of the form
//
//	[LABEL [WEIGHT [BASE]]] [TAG]|ns f:v f:v ... |ns2 ...
//
// where the tag, accepted and ignored, either touches the '|' or starts
// with a quote ("1 'tag |ns"); without a tag a space comes before the '|'.
// A feature written without ":v" has value 1; the base is ignored. Blank
// lines are skipped. Errors name the line number and the offending token;
// the label is left to the caller to read.
func readVW(r io.Reader) (*vwText, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxVWLine)
	col := map[string]int{}
	t := &vwText{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		bar := strings.IndexByte(text, '|')
		if bar < 0 {
			return nil, fmt.Errorf("vw line %d: no '|' separating the label from the features", line)
		}
		ex := vwExample{line: line, weight: 1}
		head := strings.Fields(text[:bar])
		// The tag is a field starting with a quote, or the field that
		// touches the '|' ("1 2 tag|x"): "1|x" is a tag and no label.
		if n := len(head); n > 0 && (bar > 0 && !unicode.IsSpace(rune(text[bar-1])) || strings.HasPrefix(head[n-1], "'")) {
			head = head[:n-1]
		}
		if len(head) > 0 && strings.HasPrefix(head[0], "'") {
			return nil, fmt.Errorf("vw line %d: the tag %q comes before other fields; it is the last before '|'", line, head[0])
		}
		// LABEL [IMPORTANCE [BASE]]: the base (an initial prediction) is
		// read and ignored.
		if len(head) > 3 {
			return nil, fmt.Errorf("vw line %d: %q: more fields before '|' than a label, an importance weight, a base and a tag", line, text[:bar])
		}
		if len(head) > 0 {
			ex.label = head[0]
		}
		if len(head) > 1 {
			w, err := ParseFloat(head[1])
			if err != nil || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("vw line %d: importance weight %q is not a non-negative number", line, head[1])
			}
			ex.weight = w
		}
		if len(head) > 2 {
			if b, err := ParseFloat(head[2]); err != nil || math.IsNaN(b) || math.IsInf(b, 0) {
				return nil, fmt.Errorf("vw line %d: base %q is not a finite number", line, head[2])
			}
		}
		for _, part := range strings.Split(text[bar+1:], "|") {
			toks := strings.Fields(part)
			ns := ""
			if len(part) > 0 && part[0] != ' ' && part[0] != '\t' && len(toks) > 0 {
				// "|ns f:v": the first token names the namespace (an optional
				// ":scale" on it is not supported, and rejected below).
				ns, toks = toks[0], toks[1:]
				if strings.Contains(ns, ":") {
					return nil, fmt.Errorf("vw line %d: namespace scaling %q is not supported", line, ns)
				}
			}
			for _, tok := range toks {
				name, val := tok, 1.0
				if i := strings.LastIndexByte(tok, ':'); i >= 0 {
					name = tok[:i]
					v, err := ParseFloat(tok[i+1:])
					if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
						return nil, fmt.Errorf("vw line %d: feature %q has value %q, not a finite number", line, name, tok[i+1:])
					}
					val = v
				}
				if name == "" {
					return nil, fmt.Errorf("vw line %d: empty feature name in %q", line, tok)
				}
				key := name
				if ns != "" {
					key = ns + "^" + name
				}
				j, ok := col[key]
				if !ok {
					j = len(t.names)
					col[key] = j
					t.names = append(t.names, key)
				}
				ex.features = append(ex.features, vwFeature{j, val})
			}
		}
		t.examples = append(t.examples, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vw line %d: %w", line+1, err)
	}
	if len(t.examples) == 0 {
		return nil, fmt.Errorf("vw: no examples")
	}
	if cells := int64(len(t.examples)) * int64(len(t.names)); cells > maxCells {
		return nil, fmt.Errorf("vw: %d examples x %d features is too large to hold densely (limit %d cells)", len(t.examples), len(t.names), maxCells)
	}
	return t, nil
}

// ReadVWMulticlass reads VW multiclass text (see readVW) whose labels are
// integers >= 1: the classes.
func ReadVWMulticlass(r io.Reader) (*Multiclass, error) {
	t, err := readVW(r)
	if err != nil {
		return nil, err
	}
	m := &Multiclass{Rows: len(t.examples), Cols: len(t.names), Names: t.names}
	m.X = make([]float64, m.Rows*m.Cols)
	m.Label = make([]int, m.Rows)
	for i, ex := range t.examples {
		if ex.label == "" {
			return nil, fmt.Errorf("vw line %d: missing label before '|'", ex.line)
		}
		label, err := strconv.Atoi(ex.label)
		if err != nil || label < 1 {
			return nil, fmt.Errorf("vw line %d: label %q is not a class number 1..K", ex.line, ex.label)
		}
		if label > MaxVWClasses {
			// K is the largest label, and a policy keeps state per class:
			// one stray label must not make a billion of them.
			return nil, fmt.Errorf("vw line %d: label %d is above the largest class number accepted (%d)", ex.line, label, MaxVWClasses)
		}
		m.Label[i] = label
		m.K = max(m.K, label)
		x := m.Row(i)
		for _, f := range ex.features {
			// A repeated feature adds up, as VW's linear model would see it.
			x[f.col] += f.v
		}
	}
	return m, nil
}

// ReadVW reads VW text (see readVW) as a feature matrix for the boosting
// engine: a label is any finite number (a class number, or a regression
// target), and a written importance weight becomes the row's weight. A
// feature absent from a line is 0, as VW reads it, and the columns are
// the features in natural order of their names (f2 before f10), so that
// two files with the same features have the same columns. With noLabel,
// labels are not read (a line may have none) and Label is nil.
func ReadVW(r io.Reader, noLabel bool) (*Dense, error) {
	t, err := readVW(r)
	if err != nil {
		return nil, err
	}
	order := make([]int, len(t.names))
	for j := range order {
		order[j] = j
	}
	slices.SortFunc(order, func(a, b int) int { return naturalCompare(t.names[a], t.names[b]) })
	d := &Dense{Rows: len(t.examples), Cols: len(t.names), Names: make([]string, len(t.names)), AbsentIsZero: true}
	colOf := make([]int, len(t.names))
	for c, j := range order {
		colOf[j] = c
		d.Names[c] = t.names[j]
	}
	d.X = make([]float32, d.Rows*d.Cols)
	if !noLabel {
		d.Label = make([]float32, d.Rows)
	}
	acc := make([]float64, d.Cols)
	for i, ex := range t.examples {
		if !noLabel {
			if ex.label == "" {
				return nil, fmt.Errorf("vw line %d: missing label before '|' (a file to predict on may leave labels out: --no-label)", ex.line)
			}
			v, err := ParseFloat(ex.label)
			if err != nil || !finite32(v) {
				return nil, fmt.Errorf("vw line %d: label %q is not a finite number in single precision", ex.line, ex.label)
			}
			d.Label[i] = float32(v)
		}
		if !finite32(ex.weight) {
			return nil, fmt.Errorf("vw line %d: importance weight %g is past single precision", ex.line, ex.weight)
		}
		if ex.weight != 1 && d.Weight == nil {
			d.Weight = make([]float32, d.Rows)
			for k := range i {
				d.Weight[k] = 1
			}
		}
		if d.Weight != nil {
			d.Weight[i] = float32(ex.weight)
		}
		// A repeated feature adds up, as VW's linear model would see it;
		// summed in float64 as ReadVWMulticlass does.
		clear(acc)
		for _, f := range ex.features {
			acc[colOf[f.col]] += f.v
		}
		x := d.Row(i)
		for c, v := range acc {
			if !finite32(v) {
				return nil, fmt.Errorf("vw line %d: feature %q adds up to %g, past single precision", ex.line, d.Names[c], v)
			}
			x[c] = float32(v)
		}
	}
	return d, nil
}

// finite32 reports whether v is a finite number once rounded to float32,
// the matrix's precision (1e39 is finite as a float64, not as a float32).
func finite32(v float64) bool {
	return !math.IsNaN(v) && !math.IsInf(float64(float32(v)), 0)
}

// naturalCompare orders names with their runs of digits compared as
// numbers ("f2" < "f10"), and otherwise byte by byte. Names equal but for
// leading zeros ("f1", "f01") are told apart by the first run whose
// zeros differ, the fewer first.
func naturalCompare(a, b string) int {
	zeros := 0
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			if zeros == 0 {
				zeros = da - db
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	if c := len(a) - len(b); c != 0 {
		return c
	}
	return zeros
}

// digitRun is the length of the run of ASCII digits s starts with.
func digitRun(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
