package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"
)

// Options says how to read a data file.
type Options struct {
	// Format is "csv", "tsv", "libsvm" ("svm" is a synonym) or "vw"; ""
	// picks it from the file name's extension, ignoring a trailing ".gz".
	Format string
	// Label is the label column of a CSV/TSV file: a header name or a
	// 0-based index. "" means the column named "label" (any case), else
	// column 0.
	Label string
	// Weight is the weight column, by name or index, or "" for none.
	Weight string
	// NoLabel reads every column of a CSV/TSV file as a feature, and VW
	// lines without reading their labels (Label is then nil): for files to
	// predict on that carry no label.
	NoLabel bool
	// Ignore lists columns (names or indices) to drop, such as ids or
	// string-valued columns a CSV file carries alongside its numbers.
	Ignore []string
	// Headerless, if set, gives the label and weight columns (0-based
	// indexes, "" for the defaults) of a CSV/TSV file that turns out to
	// have no header line, when Label and Weight are both "" and NoLabel
	// is not set; it is told the file's column count.
	Headerless func(ncol int) (label, weight string)
}

// Limits that keep a hostile file from making a reader allocate without
// bound before it has read the data that would justify it.
const (
	maxLineBytes = 64 << 20
	// maxLibSVMIndex bounds a libsvm feature index (the densified matrix
	// has one column per index up to the largest).
	maxLibSVMIndex = 1<<24 - 1
	// maxCells bounds Rows*Cols of a densified libsvm matrix (1 GiB).
	maxCells = 1 << 28
)

// FormatOf returns the format name the extension of path implies
// ("csv", "tsv", "libsvm", "vw") or "" if it implies none.
func FormatOf(path string) string {
	ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(path, ".gz")))
	switch ext {
	case ".csv":
		return "csv"
	case ".tsv":
		return "tsv"
	case ".libsvm", ".svm":
		return "libsvm"
	case ".vw":
		return "vw"
	}
	return ""
}

// ReadFile reads a CSV, TSV, libsvm or VW file, gzipped or not, into a
// Dense matrix. Errors name the file and the line.
func ReadFile(path string, opt Options) (*Dense, error) {
	format := strings.ToLower(opt.Format)
	if format == "" {
		format = FormatOf(path)
	}
	var read func(io.Reader) (*Dense, error)
	switch format {
	case "csv":
		read = func(r io.Reader) (*Dense, error) { return ReadCSV(r, ',', opt) }
	case "tsv":
		read = func(r io.Reader) (*Dense, error) { return ReadCSV(r, '\t', opt) }
	case "libsvm", "svm":
		if opt.Label != "" || opt.Weight != "" {
			return nil, fmt.Errorf("%s: --label and --weight do not apply to libsvm files (the label is the first token)", path)
		}
		read = ReadLibSVM
	case "vw":
		if opt.Label != "" || opt.Weight != "" {
			return nil, fmt.Errorf("%s: --label and --weight do not apply to VW files (the label and the importance weight are the first tokens)", path)
		}
		read = func(r io.Reader) (*Dense, error) { return ReadVW(r, opt.NoLabel) }
	case "":
		return nil, fmt.Errorf("%s: cannot tell the format from the extension (want .csv, .tsv, .libsvm, .svm or .vw, optionally .gz); set the format", path)
	default:
		return nil, fmt.Errorf("%s: format %q cannot be read as a feature matrix (want csv, tsv, libsvm or vw)", path, format)
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// lineReader yields lines without their end-of-line bytes, counting them.
type lineReader struct {
	r    *bufio.Reader
	line int
	long []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<16)}
}

// next returns the next line (valid until the following call), or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], b...)
		for err == bufio.ErrBufferFull {
			b, err = lr.r.ReadSlice('\n')
			lr.long = append(lr.long, b...)
			if len(lr.long) > maxLineBytes {
				return nil, fmt.Errorf("line %d: longer than %d bytes", lr.line+1, maxLineBytes)
			}
		}
		b = lr.long
	}
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("line %d: %w", lr.line+1, err)
	}
	if err == io.EOF && len(b) == 0 {
		return nil, io.EOF
	}
	lr.line++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	return b, nil
}

// splitFields splits a CSV/TSV line into fields, appending to dst. A field
// in double quotes may contain the separator and "" for a quote; its
// quotes are removed (the returned slices then point into scratch).
func splitFields(dst [][]byte, line []byte, sep byte, scratch *[]byte) ([][]byte, error) {
	dst = dst[:0]
	if bytes.IndexByte(line, '"') < 0 {
		for {
			i := bytes.IndexByte(line, sep)
			if i < 0 {
				return append(dst, line), nil
			}
			dst = append(dst, line[:i])
			line = line[i+1:]
		}
	}
	*scratch = (*scratch)[:0]
	type span struct{ lo, hi int }
	var spans []span
	for {
		if len(line) > 0 && line[0] == '"' {
			lo := len(*scratch)
			i := 1
			for {
				if i >= len(line) {
					return nil, errors.New("unterminated quoted field")
				}
				if line[i] == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						*scratch = append(*scratch, '"')
						i += 2
						continue
					}
					break
				}
				*scratch = append(*scratch, line[i])
				i++
			}
			spans = append(spans, span{lo, len(*scratch)})
			line = line[i+1:]
			if len(line) == 0 {
				break
			}
			if line[0] != sep {
				return nil, errors.New("text after a closing quote")
			}
			line = line[1:]
			continue
		}
		i := bytes.IndexByte(line, sep)
		lo := len(*scratch)
		if i < 0 {
			*scratch = append(*scratch, line...)
			spans = append(spans, span{lo, len(*scratch)})
			break
		}
		*scratch = append(*scratch, line[:i]...)
		spans = append(spans, span{lo, len(*scratch)})
		line = line[i+1:]
	}
	for _, s := range spans {
		dst = append(dst, (*scratch)[s.lo:s.hi])
	}
	return dst, nil
}

// parseValue parses a number as numpy and pandas do before handing data to
// XGBoost: to float64, then rounded to float32. An empty field is missing.
func parseValue(b []byte) (float32, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return float32(math.NaN()), true
	}
	if v, ok := parseSimple(b); ok {
		return float32(v), true
	}
	if !plainNumber(b) {
		return 0, false
	}
	// The string aliases b only for the call: strconv copies the text into
	// any error it returns.
	v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return float32(v), true
		}
		return 0, false
	}
	return float32(v), true
}

// plainNumber reports whether b holds none of the syntax Go's ParseFloat
// reads beyond what numpy and pandas take for a number: hexadecimal
// ("0x1p4") and digit separators ("1_000").
func plainNumber[T []byte | string](b T) bool {
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '_', 'x', 'X', 'p', 'P':
			return false
		}
	}
	return true
}

// ParseFloat is strconv.ParseFloat(s, 64) for a number in a data file:
// it refuses what plainNumber refuses, as the readers here do.
func ParseFloat(s string) (float64, error) {
	if !plainNumber(s) {
		return 0, &strconv.NumError{Func: "ParseFloat", Num: s, Err: strconv.ErrSyntax}
	}
	return strconv.ParseFloat(s, 64)
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseSimple parses the common case of a data file's number, an optional
// sign, digits and an optional fraction, when its digits fit in 2^53:
// then mantissa / 10^k is one correctly rounded division of two exact
// float64s, so the result is ParseFloat's to the bit, at a fraction of its
// cost (parsing dominates reading a large CSV file). Anything else (an
// exponent, more digits, "NaN") reports false for ParseFloat to handle.
func parseSimple(b []byte) (float64, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i++
	}
	var mant uint64
	digits, frac := 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if digits > 15 {
				return 0, false
			}
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	v := float64(mant)
	if frac > 0 {
		v /= pow10[frac]
	}
	if neg {
		v = -v
	}
	return v, true
}

// isNumberOrEmpty reports whether a header-candidate field reads as data.
func isNumberOrEmpty(b []byte) bool {
	_, ok := parseValue(b)
	return ok
}

// ReadCSV reads delimiter-separated values (sep ',' for CSV, '\t' for
// TSV). The first line is a header if any of its fields is not a number.
// See Options for the label, weight and ignored columns. An empty field is
// missing (NaN); any other non-numeric field is an error naming its line
// and column.
func ReadCSV(r io.Reader, sep rune, opt Options) (*Dense, error) {
	if sep <= 0 || sep >= 0x80 || sep == '"' || sep == '\n' || sep == '\r' {
		return nil, fmt.Errorf("separator %q must be one ASCII character other than a quote or newline", sep)
	}
	s := byte(sep)
	lr := newLineReader(r)
	var fields [][]byte
	var scratch []byte

	first, err := lr.next()
	if err == io.EOF {
		return nil, errors.New("no data: the file is empty")
	}
	if err != nil {
		return nil, err
	}
	first = bytes.TrimPrefix(first, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	fields, err = splitFields(fields, first, s, &scratch)
	if err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	ncol := len(fields)
	if s == ',' && ncol == 1 && bytes.IndexByte(fields[0], '\t') >= 0 {
		return nil, errors.New("line 1 is one column with tabs in it: the file looks tab-separated; read it as TSV (--format tsv, or a .tsv extension)")
	}
	var header []string
	for _, f := range fields {
		if !isNumberOrEmpty(f) {
			header = make([]string, ncol)
			for i, f := range fields {
				header[i] = strings.TrimSpace(string(f))
			}
			if err := CheckHeader(header); err != nil {
				return nil, fmt.Errorf("line 1: %w", err)
			}
			break
		}
	}

	if header == nil && opt.Headerless != nil && opt.Label == "" && opt.Weight == "" && !opt.NoLabel {
		opt.Label, opt.Weight = opt.Headerless(ncol)
	}
	role := make([]byte, ncol) // 0 feature, 'l' label, 'w' weight, 'x' ignored
	labelCol := -1
	if !opt.NoLabel {
		labelCol, err = pickColumn("label", opt.Label, header, ncol, true)
		if err != nil {
			return nil, err
		}
		role[labelCol] = 'l'
	} else if opt.Label != "" {
		return nil, errors.New("a label column was named but NoLabel is set")
	}
	weightCol := -1
	if opt.Weight != "" {
		weightCol, err = pickColumn("weight", opt.Weight, header, ncol, false)
		if err != nil {
			return nil, err
		}
		if weightCol == labelCol {
			return nil, fmt.Errorf("weight column %q is the label column", opt.Weight)
		}
		role[weightCol] = 'w'
	}
	for _, ig := range opt.Ignore {
		c, err := pickColumn("ignored", ig, header, ncol, false)
		if err != nil {
			return nil, err
		}
		if role[c] == 'l' || role[c] == 'w' {
			return nil, fmt.Errorf("ignored column %q is the label or weight column", ig)
		}
		role[c] = 'x'
	}
	d := &Dense{}
	if header != nil && labelCol >= 0 {
		d.LabelName = header[labelCol]
	}
	for i, r := range role {
		if r == 0 {
			d.Cols++
			if header != nil {
				d.Names = append(d.Names, header[i])
			}
		}
	}
	if weightCol >= 0 {
		d.Weight = []float32{}
	}

	row := func(lineNo int, fields [][]byte) error {
		if len(fields) != ncol {
			return fmt.Errorf("line %d: %d fields, want %d", lineNo, len(fields), ncol)
		}
		for i, f := range fields {
			if role[i] == 'x' {
				continue
			}
			v, ok := parseValue(f)
			if !ok {
				return fmt.Errorf("line %d, column %s: %q is not a number", lineNo, columnName(i, header), truncate(f))
			}
			switch role[i] {
			case 0:
				d.X = append(d.X, v)
			case 'l':
				if v != v {
					return fmt.Errorf("line %d, column %s: the label is missing", lineNo, columnName(i, header))
				}
				d.Label = append(d.Label, v)
			case 'w':
				if !(v >= 0) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("line %d, column %s: weight %q must be a finite number >= 0", lineNo, columnName(i, header), truncate(f))
				}
				d.Weight = append(d.Weight, v)
			}
		}
		d.Rows++
		return nil
	}
	if header == nil {
		if err := row(1, fields); err != nil {
			return nil, err
		}
	}
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		fields, err = splitFields(fields, line, s, &scratch)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", lr.line, err)
		}
		if err := row(lr.line, fields); err != nil {
			return nil, err
		}
	}
	if d.Rows == 0 {
		return nil, errors.New("no data rows")
	}
	return d, nil
}

// CheckHeader refuses a header that names a column twice: a name would
// then pick one of the two silently. The error names the column and both
// of its positions, counting from 1.
func CheckHeader(header []string) error {
	seen := make(map[string]int, len(header))
	for i, h := range header {
		if j, dup := seen[h]; dup {
			return fmt.Errorf("column %q appears twice in the header, at positions %d and %d (counting from 1); rename one of them", h, j+1, i+1)
		}
		seen[h] = i
	}
	return nil
}

func columnName(i int, header []string) string {
	if header != nil {
		return fmt.Sprintf("%d (%q)", i, header[i])
	}
	return strconv.Itoa(i)
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// pickColumn resolves a column given by name or 0-based index. For the
// label, "" means the column named "label" (exactly, else in any case),
// else column 0.
func pickColumn(what, spec string, header []string, ncol int, isLabel bool) (int, error) {
	if spec == "" && isLabel {
		if i := findName(header, "label"); i >= 0 {
			return i, nil
		}
		return 0, nil
	}
	if i := findName(header, spec); i >= 0 {
		return i, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 0 || n >= ncol {
			return 0, fmt.Errorf("%s column %d out of range: the file has %d columns", what, n, ncol)
		}
		return n, nil
	}
	if header == nil {
		return 0, fmt.Errorf("%s column %q: the file has no header line, give a 0-based index", what, spec)
	}
	return 0, fmt.Errorf("%s column %q not in the header", what, spec)
}

func findName(header []string, name string) int {
	for i, h := range header {
		if h == name {
			return i
		}
	}
	found := -1
	for i, h := range header {
		if strings.EqualFold(h, name) {
			if found >= 0 {
				return -1 // ambiguous
			}
			found = i
		}
	}
	return found
}

// ReadLibSVM reads the libsvm text format, "label index:value ...", one
// row per line. Indices are kept as written (column index = feature index),
// an absent index is missing (NaN) as in XGBoost, and Cols is the largest
// index plus one. A "qid:N" token is ignored; "#" starts a comment.
func ReadLibSVM(r io.Reader) (*Dense, error) {
	type entry struct {
		row int32
		col int32
		v   float32
	}
	lr := newLineReader(r)
	var entries []entry
	var labels []float32
	maxIdx := -1
	for {
		line, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		tok, rest := nextToken(line)
		if len(tok) == 0 {
			continue
		}
		if len(labels) >= math.MaxInt32 {
			return nil, fmt.Errorf("line %d: more than %d rows", lr.line, math.MaxInt32)
		}
		lab, ok := parseValue(tok)
		if !ok || lab != lab {
			return nil, fmt.Errorf("line %d: label %q is not a number", lr.line, truncate(tok))
		}
		row := int32(len(labels))
		labels = append(labels, lab)
		for {
			tok, rest = nextToken(rest)
			if len(tok) == 0 {
				break
			}
			c := bytes.IndexByte(tok, ':')
			if c < 0 {
				return nil, fmt.Errorf("line %d: %q is not index:value", lr.line, truncate(tok))
			}
			if string(tok[:c]) == "qid" {
				continue
			}
			idx, err := strconv.Atoi(string(tok[:c]))
			if err != nil || idx < 0 || idx > maxLibSVMIndex {
				return nil, fmt.Errorf("line %d: feature index %q is not an integer in [0, %d]", lr.line, truncate(tok[:c]), maxLibSVMIndex)
			}
			v, ok := parseValue(tok[c+1:])
			if !ok || len(tok) == c+1 {
				return nil, fmt.Errorf("line %d: value %q of feature %d is not a number", lr.line, truncate(tok[c+1:]), idx)
			}
			maxIdx = max(maxIdx, idx)
			entries = append(entries, entry{row, int32(idx), v})
		}
	}
	if len(labels) == 0 {
		return nil, errors.New("no data rows")
	}
	d := &Dense{Rows: len(labels), Cols: maxIdx + 1, Label: labels}
	if cells := int64(d.Rows) * int64(d.Cols); cells > maxCells {
		return nil, fmt.Errorf("%d rows x %d columns is too large to hold densely (limit %d cells)", d.Rows, d.Cols, maxCells)
	}
	d.X = make([]float32, d.Rows*d.Cols)
	nan := float32(math.NaN())
	for i := range d.X {
		d.X[i] = nan
	}
	for _, e := range entries {
		d.X[int(e.row)*d.Cols+int(e.col)] = e.v
	}
	return d, nil
}

// nextToken splits off the next space- or tab-separated token.
func nextToken(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	return b[i:j], b[j:]
}
