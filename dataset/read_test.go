package dataset

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sharedData is the project's shared data directory (its README describes
// each file); tests that need it skip when it is absent.
const sharedData = "../../shared/data"

func nan() float32 { return float32(math.NaN()) }

// sameFloats compares with NaN equal to NaN.
func sameFloats(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return x == y || (x != x && y != y) })
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		sep   rune
		opt   Options
		want  Dense
		isErr string
	}{
		{name: "header, label by default name", in: "a,label,b\n1,0,2\n3,1,\n", sep: ',',
			want: Dense{Rows: 2, Cols: 2, X: []float32{1, 2, 3, nan()}, Label: []float32{0, 1}, Names: []string{"a", "b"}}},
		{name: "no header, label column 0", in: "1,2,3\n0,5,6\r\n", sep: ',',
			want: Dense{Rows: 2, Cols: 2, X: []float32{2, 3, 5, 6}, Label: []float32{1, 0}}},
		{name: "label by index, tsv", in: "1\t2\t3\n", sep: '\t', opt: Options{Label: "2"},
			want: Dense{Rows: 1, Cols: 2, X: []float32{1, 2}, Label: []float32{3}}},
		{name: "label and weight by name, ignore", in: "id,Label,w,x\n7,1,0.5,9\n", sep: ',', opt: Options{Weight: "w", Ignore: []string{"id"}},
			want: Dense{Rows: 1, Cols: 1, X: []float32{9}, Label: []float32{1}, Weight: []float32{0.5}, Names: []string{"x"}}},
		{name: "quoted header", in: "\"label\",\"a,b\"\n1,\"2\"\n", sep: ',',
			want: Dense{Rows: 1, Cols: 1, X: []float32{2}, Label: []float32{1}, Names: []string{"a,b"}}},
		{name: "no label", in: "1,2\n", sep: ',', opt: Options{NoLabel: true},
			want: Dense{Rows: 1, Cols: 2, X: []float32{1, 2}}},
		{name: "text in data", in: "label,c\n1,68fd1e64\n", sep: ',', isErr: `line 2, column 1 ("c"): "68fd1e64" is not a number`},
		{name: "hexadecimal in data", in: "label,c\n1,0x1p4\n", sep: ',', isErr: `line 2, column 1 ("c"): "0x1p4" is not a number`},
		{name: "digit separators in data", in: "label,c\n1,1_000\n", sep: ',', isErr: `line 2, column 1 ("c"): "1_000" is not a number`},
		{name: "ragged", in: "1,2\n1,2,3\n", sep: ',', isErr: "line 2: 3 fields, want 2"},
		{name: "missing label", in: "1,2\n,3\n", sep: ',', isErr: "line 2, column 0: the label is missing"},
		{name: "unknown label", in: "a,b\n1,2\n", sep: ',', opt: Options{Label: "c"}, isErr: `label column "c" not in the header`},
		{name: "label index out of range", in: "1,2\n", sep: ',', opt: Options{Label: "5"}, isErr: "out of range"},
		{name: "empty", in: "", sep: ',', isErr: "empty"},
		{name: "header only", in: "a,b\n", sep: ',', isErr: "no data rows"},
		{name: "negative weight", in: "y,w\n1,-1\n", sep: ',', opt: Options{Weight: "w"}, isErr: "weight"},
		{name: "unterminated quote", in: "1,\"2\n", sep: ',', isErr: "line 1: unterminated"},
		{name: "tsv read as csv", in: "label\ta\tb\n1\t2\t3\n", sep: ',',
			isErr: "line 1 is one column with tabs in it: the file looks tab-separated; read it as TSV (--format tsv, or a .tsv extension)"},
		{name: "tsv without header read as csv", in: "1\t2\t3\n", sep: ',', isErr: "looks tab-separated"},
		{name: "one column with a tab, read as tsv", in: "label\ta\n1\t2\n", sep: '\t',
			want: Dense{Rows: 1, Cols: 1, X: []float32{2}, Label: []float32{1}, Names: []string{"a"}}},
		{name: "one csv column", in: "label\n1\n", sep: ',', want: Dense{Rows: 1, Label: []float32{1}, Names: nil}},
		{name: "a column twice", in: "label,a,b,a\n1,2,3,4\n", sep: ',',
			isErr: `line 1: column "a" appears twice in the header, at positions 2 and 4 (counting from 1); rename one of them`},
		{name: "a column twice, tsv", in: "x\tlabel\tx\n1\t2\t3\n", sep: '\t', isErr: `column "x" appears twice in the header, at positions 1 and 3`},
		{name: "the label twice", in: "label,label\n1,2\n", sep: ',', isErr: `column "label" appears twice`},
		{name: "names differing in case", in: "a,A,label\n1,2,3\n", sep: ',',
			want: Dense{Rows: 1, Cols: 2, X: []float32{1, 2}, Label: []float32{3}, Names: []string{"a", "A"}}},
		{name: "numbers repeat in a headerless row", in: "1,1,1\n", sep: ',', want: Dense{Rows: 1, Cols: 2, X: []float32{1, 1}, Label: []float32{1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ReadCSV(strings.NewReader(tt.in), tt.sep, tt.opt)
			if tt.isErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.isErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.isErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Rows != tt.want.Rows || d.Cols != tt.want.Cols || !sameFloats(d.X, tt.want.X) ||
				!sameFloats(d.Label, tt.want.Label) || !sameFloats(d.Weight, tt.want.Weight) || !slices.Equal(d.Names, tt.want.Names) {
				t.Errorf("got %+v, want %+v", *d, tt.want)
			}
		})
	}
}

func TestReadLibSVM(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Dense
		isErr string
	}{
		{name: "indices as written, absent missing", in: "1 1:0.5 3:2\n0 2:1 # comment\n\n",
			want: Dense{Rows: 2, Cols: 4, X: []float32{nan(), 0.5, nan(), 2, nan(), nan(), 1, nan()}, Label: []float32{1, 0}}},
		{name: "qid ignored", in: "2 qid:3 0:1\n", want: Dense{Rows: 1, Cols: 1, X: []float32{1}, Label: []float32{2}}},
		{name: "bad token", in: "1 5\n", isErr: `line 1: "5" is not index:value`},
		{name: "bad index", in: "1 1:1\n0 x:1\n", isErr: `line 2: feature index "x"`},
		{name: "huge index", in: "1 99999999999:1\n", isErr: "feature index"},
		{name: "bad value", in: "1 1:abc\n", isErr: "line 1: value"},
		{name: "bad label", in: "yes 1:1\n", isErr: "line 1: label"},
		{name: "too large", in: "1 16777215:1\n" + strings.Repeat("1\n", 100), isErr: "too large"},
		{name: "empty", in: "", isErr: "no data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ReadLibSVM(strings.NewReader(tt.in))
			if tt.isErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.isErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.isErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Rows != tt.want.Rows || d.Cols != tt.want.Cols || !sameFloats(d.X, tt.want.X) || !sameFloats(d.Label, tt.want.Label) {
				t.Errorf("got %+v, want %+v", *d, tt.want)
			}
		})
	}
}

// TestReadFile reads the shared data files through the extension rules
// (gzipped TSV, libsvm and a CSV with a header and a text column).
func TestReadFile(t *testing.T) {
	if _, err := os.Stat(sharedData); err != nil {
		t.Skipf("no shared data: %v", err)
	}
	d, err := ReadFile(filepath.Join(sharedData, "higgs_lgbm_binary.test.tsv.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 500 || d.Cols != 28 || d.Names != nil {
		t.Errorf("higgs test: %d x %d, names %v; want 500 x 28, none", d.Rows, d.Cols, d.Names)
	}
	d, err = ReadFile(filepath.Join(sharedData, "agaricus.txt.test.libsvm.gz"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 1611 || d.Cols != 127 || !math.IsNaN(float64(d.X[0])) {
		t.Errorf("agaricus test: %d x %d, x[0] %v; want 1611 x 127, NaN", d.Rows, d.Cols, d.X[0])
	}
	criteo := filepath.Join(sharedData, "criteo_kaggle2014_train_tiny.csv.gz")
	if _, err := ReadFile(criteo, Options{}); err == nil || !strings.Contains(err.Error(), `line 2, column 15 ("C1")`) {
		t.Errorf("criteo with hex columns: error %v, want one naming line 2 column C1", err)
	}
	ignore := []string{"Id"}
	for i := 1; i <= 26; i++ {
		ignore = append(ignore, fmt.Sprintf("C%d", i))
	}
	d, err = ReadFile(criteo, Options{Ignore: ignore})
	if err != nil {
		t.Fatal(err)
	}
	if d.Rows != 1999 || d.Cols != 13 || d.Names[0] != "I1" {
		t.Errorf("criteo numeric columns: %d x %d %v", d.Rows, d.Cols, d.Names)
	}
	if _, err := ReadFile("x.parquet", Options{}); err == nil || !strings.Contains(err.Error(), "extension") {
		t.Errorf("unknown extension: %v", err)
	}
}

// TestReadFileGzipCSV writes a gzipped CSV and reads it back by extension.
func TestReadFileGzipCSV(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("label,a\n1,2\n"))
	zw.Close()
	path := filepath.Join(t.TempDir(), "d.csv.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := ReadFile(path, Options{})
	if err != nil || d.Rows != 1 || d.X[0] != 2 {
		t.Fatalf("got %+v, %v", d, err)
	}
}

// FuzzReadCSV: any input gives an error or a consistent matrix, never a panic.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{"a,label,b\n1,0,2\n3,1,\n", "1,2,3\n0,5,6\r\n", "\"label\",\"a,b\"\n1,\"2\"\n", "x\n\"", "1,\"\"\"\",2\n", ",\n,\n"} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, tab bool) {
		sep := ','
		if tab {
			sep = '\t'
		}
		d, err := ReadCSV(bytes.NewReader(data), sep, Options{})
		if err != nil {
			return
		}
		if len(d.X) != d.Rows*d.Cols || len(d.Label) != d.Rows || (d.Names != nil && len(d.Names) != d.Cols) {
			t.Fatalf("inconsistent matrix: %d x %d, %d values, %d labels, %d names", d.Rows, d.Cols, len(d.X), len(d.Label), len(d.Names))
		}
	})
}

// FuzzReadLibSVM: any input gives an error or a consistent matrix.
func FuzzReadLibSVM(f *testing.F) {
	for _, s := range []string{"1 1:0.5 3:2\n0 2:1 # c\n", "2 qid:3 0:1\n", "1 5\n", "0 1:\n", "1 16777215:1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ReadLibSVM(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(d.X) != d.Rows*d.Cols || len(d.Label) != d.Rows {
			t.Fatalf("inconsistent matrix: %d x %d, %d values, %d labels", d.Rows, d.Cols, len(d.X), len(d.Label))
		}
	})
}

// TestParseSimpleMatchesParseFloat checks the fast number parser against
// strconv on edge cases and on seeded random decimals, bit for bit.
func TestParseSimpleMatchesParseFloat(t *testing.T) {
	inputs := []string{"0", "-0", "+1", "1.", ".5", "-.5", "0.1", "0.869293213", "123456789012345",
		"1234567890123456", "0.000000000000001", "9007199254740993", "3.4028235e38", "1e5", "nan", "-", ".", "1.2.3", "0x10"}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20000 {
		digits := 1 + rng.IntN(16)
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		dot := rng.IntN(digits + 1)
		for i := range digits {
			if i == dot {
				b.WriteByte('.')
			}
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		want, werr := strconv.ParseFloat(in, 64)
		got, ok := parseSimple([]byte(in))
		if !ok {
			continue
		}
		if werr != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("parseSimple(%q) = %v, ParseFloat %v (%v)", in, got, want, werr)
		}
	}
	if _, ok := parseSimple([]byte("0.5")); !ok {
		t.Error("parseSimple refused 0.5")
	}
}
