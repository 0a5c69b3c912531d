// Package dataset reads the data files Lift's engines train and evaluate
// on: CSV, TSV, libsvm and Vowpal Wabbit text, each optionally gzipped.
package dataset

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
)

// Dense is a row-major float32 matrix with one label per row. A missing
// value is NaN, as XGBoost treats it.
type Dense struct {
	Rows, Cols int
	// X holds Rows*Cols values; row i is X[i*Cols : (i+1)*Cols].
	X []float32
	// Label has one entry per row.
	Label []float32
	// Weight has one entry per row, or is nil when every weight is 1.
	Weight []float32
	// Names are the feature names from a header line (or VW's feature
	// names), or nil.
	Names []string
	// LabelName is the label column's name in a header line, if any.
	LabelName string
	// AbsentIsZero says that a feature the file does not name is 0, not
	// missing (VW text, which omits zeros): aligned by name with a model or
	// another file, an absent column is added as 0 and an unknown one is
	// dropped.
	AbsentIsZero bool
}

// Row returns row i's feature values (a view, not a copy).
func (d *Dense) Row(i int) []float32 { return d.X[i*d.Cols : (i+1)*d.Cols] }

// Open opens path for reading, transparently decompressing a ".gz" file.
func Open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
	}
	return &gzipFile{Reader: zr, f: f}, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}
