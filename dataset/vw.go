package dataset

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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

// ReadVWMulticlass reads VW multiclass text: lines of the form
//
//	LABEL [WEIGHT] ['TAG] |ns f:v f:v ... |ns2 ...
//
// with LABEL an integer >= 1. A feature written without ":v" has value 1.
// The weight and tag are accepted and ignored. Blank lines are skipped.
// Errors name the line number and the offending token.
func ReadVWMulticlass(r io.Reader) (*Multiclass, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxVWLine)
	col := map[string]int{}
	m := &Multiclass{}
	type entry struct {
		j int
		v float64
	}
	var rows [][]entry
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
		head := strings.Fields(text[:bar])
		if len(head) == 0 {
			return nil, fmt.Errorf("vw line %d: missing label before '|'", line)
		}
		label, err := strconv.Atoi(head[0])
		if err != nil || label < 1 {
			return nil, fmt.Errorf("vw line %d: label %q is not a class number 1..K", line, head[0])
		}
		if label > MaxVWClasses {
			// K is the largest label, and a policy keeps state per class:
			// one stray label must not make a billion of them.
			return nil, fmt.Errorf("vw line %d: label %d is above the largest class number accepted (%d)", line, label, MaxVWClasses)
		}
		for _, tok := range head[1:] {
			if strings.HasPrefix(tok, "'") {
				continue
			}
			if w, err := strconv.ParseFloat(tok, 64); err != nil || w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("vw line %d: importance weight %q is not a non-negative number", line, tok)
			}
		}
		var row []entry
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
					v, err := strconv.ParseFloat(tok[i+1:], 64)
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
					j = len(m.Names)
					col[key] = j
					m.Names = append(m.Names, key)
				}
				row = append(row, entry{j, val})
			}
		}
		rows = append(rows, row)
		m.Label = append(m.Label, label)
		m.K = max(m.K, label)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vw line %d: %w", line+1, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("vw: no examples")
	}
	m.Rows, m.Cols = len(rows), len(m.Names)
	m.X = make([]float64, m.Rows*m.Cols)
	for i, row := range rows {
		x := m.Row(i)
		for _, e := range row {
			// A repeated feature adds up, as VW's linear model would see it.
			x[e.j] += e.v
		}
	}
	return m, nil
}
