// Command synth writes the seeded synthetic classification set the GBDT
// training benchmark uses: ROWS x 28 features, label in column 0, TSV
// without a header. Like scikit-learn's make_classification it mixes
// informative, redundant (linear combinations of informative) and noise
// features, with some label noise, so that trees have real work to do.
//
//	go run ./bench/synth -rows 1000000 -seed 1 -out train.tsv
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
)

const (
	cols        = 28
	informative = 10
	redundant   = 8
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows to write")
	seed := flag.Uint64("seed", 1, "random seed (the model of the data is fixed; the seed picks the rows)")
	out := flag.String("out", "", "output TSV file (required)")
	flag.Parse()
	if *out == "" || *rows <= 0 {
		fmt.Fprintln(os.Stderr, "usage: synth -rows N -seed S -out FILE")
		os.Exit(2)
	}
	if err := write(*out, *rows, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
}

func write(path string, rows int, seed uint64) error {
	// The data's structure comes from a fixed seed so train and test sets
	// written with different seeds share it.
	shape := rand.New(rand.NewPCG(42, 42))
	var coef [informative]float64
	for i := range coef {
		coef[i] = shape.NormFloat64()
	}
	var mix [redundant][informative]float64
	for i := range mix {
		for j := range mix[i] {
			mix[i][j] = shape.NormFloat64() / 3
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var x [cols]float64
	var buf []byte
	for range rows {
		for i := range informative {
			x[i] = rng.NormFloat64()
		}
		for i := range redundant {
			s := 0.0
			for j := range informative {
				s += mix[i][j] * x[j]
			}
			x[informative+i] = s + 0.1*rng.NormFloat64()
		}
		for i := informative + redundant; i < cols; i++ {
			x[i] = rng.NormFloat64()
		}
		logit := 0.0
		for i := range informative {
			logit += coef[i] * x[i]
		}
		logit += 1.5*x[0]*x[1] - math.Abs(x[2]) + math.Sin(2*x[3])
		label := 0
		if rng.Float64() < 1/(1+math.Exp(-2*logit)) {
			label = 1
		}
		if rng.Float64() < 0.03 {
			label = 1 - label
		}
		buf = strconv.AppendInt(buf[:0], int64(label), 10)
		for i := range cols {
			buf = append(buf, '\t')
			buf = strconv.AppendFloat(buf, x[i], 'g', 7, 32)
		}
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
