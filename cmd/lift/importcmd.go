package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"lift"
	"lift/dataset"
	"lift/internal/strictjson"
)

var importCommand = &command{
	name:    "import",
	summary: "load clips or outcomes from CSV or JSON lines, in one transaction",
	run:     runImport,
}

// rowError is one rejected input row.
type rowError struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// importReport is the import command's stdout.
type importReport struct {
	Kind     string `json:"kind"`
	Accepted int    `json:"accepted"`
	// Repeated counts the accepted outcomes whose outcome_id was stored
	// before (or earlier in the file) with the same counts: counted once.
	Repeated int        `json:"repeated,omitempty"`
	Rejected int        `json:"rejected"`
	Imported bool       `json:"imported"`
	Errors   []rowError `json:"errors"`
}

// maxReportedErrors bounds the errors listed in the report.
const maxReportedErrors = 100

func runImport(ctx context.Context, m *Main, args []string) error {
	usage := "import clips|outcomes FILE [--db sqlite:lift.db] [--format csv|jsonl] [--skip-invalid]"
	fs := m.newFlagSet("import", usage)
	dsn := fs.String("db", m.dbFlag(), "database (env LIFT_DB)")
	format := fs.String("format", "", "csv or jsonl (default: by extension; .json/.ndjson are JSON lines)")
	skip := fs.Bool("skip-invalid", false, "import the valid rows and skip the invalid ones")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || (pos[0] != "clips" && pos[0] != "outcomes") {
		return usagef("usage: lift %s", usage)
	}
	kind, path := pos[0], pos[1]
	if *format == "" {
		*format = formatOf(path)
	}
	switch {
	case *format == "":
		return usagef("cannot tell the format of %q from its name (.csv, .jsonl, .json or .ndjson, optionally .gz): pass --format csv or jsonl", path)
	case *format != "csv" && *format != "jsonl":
		return usagef("--format must be csv or jsonl, got %q", *format)
	}
	f, err := dataset.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	records, err := readRecords(f, *format, kind)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// Every check that needs no database comes before it is opened (and
	// perhaps created), so that bad input changes nothing.
	var rejects []rowError
	reject := func(line int, err error) { rejects = append(rejects, rowError{line, lift.Message(err)}) }
	var clips []*lift.Clip
	var outcomes []*lift.Outcome
	var outcomeLines []int
	switch kind {
	case "clips":
		clips = clipsFromRecords(records, reject)
	case "outcomes":
		outcomes, outcomeLines = outcomesFromRecords(records, reject)
	}
	var db Store
	if len(outcomes) > 0 {
		// Outcomes need their clips stored already: a database that does
		// not exist is not created just to find none of them (every row
		// is rejected below as a clip that is not stored).
		if db, err = m.openExistingDB(ctx, *dsn); err != nil && !errors.Is(err, errNoDatabase) {
			return err
		}
		if outcomes, err = storedClipsOnly(ctx, db, outcomes, outcomeLines, reject); err != nil {
			return err
		}
	}
	rep := newImportReport(kind, rejects)
	if rep.Rejected > 0 && !*skip {
		writeJSON(m.Stdout, rep)
		first := rep.Errors[0]
		return fmt.Errorf("%s: %d invalid rows, nothing imported (first: line %d: %s); fix them or pass --skip-invalid",
			path, rep.Rejected, first.Line, first.Reason)
	}
	rep.Accepted = len(clips) + len(outcomes)
	switch {
	case len(clips) > 0:
		if db, err = m.openDB(ctx, *dsn); err != nil {
			return err
		}
		err = db.PutClips(ctx, clips)
	case len(outcomes) > 0:
		err = db.AddOutcomes(ctx, outcomes)
		for _, o := range outcomes {
			if o.Repeated {
				rep.Repeated++
			}
		}
	}
	if err != nil {
		return err
	}
	rep.Imported = true
	return writeJSON(m.Stdout, rep)
}

// newImportReport counts the rejected rows and lists the first of them
// in line order.
func newImportReport(kind string, rejects []rowError) *importReport {
	sort.SliceStable(rejects, func(i, j int) bool { return rejects[i].Line < rejects[j].Line })
	return &importReport{
		Kind:     kind,
		Rejected: len(rejects),
		Errors:   append([]rowError{}, rejects[:min(len(rejects), maxReportedErrors)]...),
	}
}

func formatOf(path string) string {
	switch strings.ToLower(filepath.Ext(strings.TrimSuffix(path, ".gz"))) {
	case ".csv":
		return "csv"
	case ".jsonl", ".json", ".ndjson":
		return "jsonl"
	}
	return ""
}

// record is one input row as named fields: JSON values for JSON lines,
// strings for CSV cells.
type record struct {
	line   int
	fields map[string]any
	err    error // a row that could not even be parsed
	// csv says the fields are CSV cells, text by nature: a number or an
	// object is read from the text. A JSON line's values must be of the
	// field's JSON type already, as in the HTTP API.
	csv bool
}

// readRecords reads the rows of a kind ("clips" or "outcomes") of file.
func readRecords(r io.Reader, format, kind string) ([]record, error) {
	if format == "jsonl" {
		return readJSONLines(r)
	}
	return readCSVRecords(r, kind)
}

// errNotUTF8 refuses a row with text that is not UTF-8.
var errNotUTF8 = errors.New("not valid UTF-8 text")

// maxJSONLine bounds one line of a JSON lines import.
const maxJSONLine = 16 << 20

func readJSONLines(r io.Reader) ([]record, error) {
	var recs []record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxJSONLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a byte order mark, as CSV's
		}
		rec := record{line: line}
		dec := json.NewDecoder(strings.NewReader(text))
		if !utf8.ValidString(text) {
			// Decoding would turn the bytes into U+FFFD, storing text the
			// file does not hold; the HTTP API refuses such a body too.
			rec.err = errNotUTF8
		} else if err := dec.Decode(&rec.fields); err != nil {
			rec.err = fmt.Errorf("malformed JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
		} else if dec.More() {
			rec.err = errors.New("malformed JSON: more than one value on the line")
		} else if err := strictjson.Check([]byte(text), nil); err != nil {
			rec.err = fmt.Errorf("malformed JSON: %v", err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d is longer than %d MiB, the most a JSON line may be", line+1, maxJSONLine>>20)
		}
		return nil, err
	}
	return recs, nil
}

func readCSVRecords(r io.Reader, kind string) ([]record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: a CSV import needs a header line")
		}
		return nil, err
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	if len(header) == 1 && strings.Contains(header[0], "\t") {
		return nil, errors.New("line 1 is one column with tabs in it: the file looks tab-separated; import reads comma-separated CSV or JSON lines")
	}
	if err := checkColumns(header, kind); err != nil {
		return nil, fmt.Errorf("line 1: %w", err)
	}
	var recs []record
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		line, _ := cr.FieldPos(0)
		rec := record{line: line, fields: map[string]any{}, csv: true}
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rec.line, rec.err = pe.Line, fmt.Errorf("malformed CSV: %v", pe.Err)
		case err != nil:
			return nil, err
		case len(row) != len(header):
			rec.err = fmt.Errorf("has %d fields, the header has %d", len(row), len(header))
		default:
			for i, v := range row {
				if !utf8.ValidString(v) {
					rec.err = errNotUTF8
				}
				if v != "" {
					rec.fields[header[i]] = v
				}
			}
		}
		recs = append(recs, rec)
	}
}

// The fields a row may have, and those it must, by kind of file.
var (
	fieldsOf = map[string][]string{
		"clips":    {"clip_id", "psychology_score", "hook_strength", "novelty_score", "emotion_data", "duration", "composite_score"},
		"outcomes": {"clip_id", "impressions", "clicks", "observed_at", "outcome_id"},
	}
	requiredOf    = map[string][]string{"clips": {"clip_id", "duration"}, "outcomes": {"clip_id", "impressions", "clicks"}}
	clipFields    = setOf(fieldsOf["clips"])
	outcomeFields = setOf(fieldsOf["outcomes"])
	// clipShownFields are the fields GET /clips/{id} adds to a clip's own.
	clipShownFields = setOf([]string{"impressions", "clicks", "actual_ctr", "features", "created_at", "updated_at"})
)

func setOf(names []string) map[string]bool {
	s := map[string]bool{}
	for _, n := range names {
		s[n] = true
	}
	return s
}

// checkColumns refuses a CSV header that names a column a kind of row
// does not have, or lacks one it needs: a file without its header line,
// or the other kind's file, would otherwise be read row by row as data,
// its first row lost or every row refused for a field it does not name.
func checkColumns(header []string, kind string) error {
	known := setOf(fieldsOf[kind])
	seen := map[string]int{}
	for i, h := range header {
		// An unnamed column (a spreadsheet's trailing comma) is let
		// through, as many as there are: a row with a value under one
		// is refused for it.
		if h == "" {
			continue
		}
		if !known[h] {
			return fmt.Errorf("%q is not a column of %s (a %s file's columns are %s; required: %s)",
				h, kind, kind, strings.Join(fieldsOf[kind], ", "), strings.Join(requiredOf[kind], ", "))
		}
		if j, dup := seen[h]; dup {
			return fmt.Errorf("column %q appears twice in the header, at positions %d and %d (counting from 1); rename one of them", h, j+1, i+1)
		}
		seen[h] = i
	}
	have := setOf(header)
	for _, r := range requiredOf[kind] {
		if !have[r] {
			return fmt.Errorf("no %q column: a %s file needs %s", r, kind, strings.Join(requiredOf[kind], ", "))
		}
	}
	return nil
}

func clipFromRecord(rec record) (*lift.Clip, error) {
	if rec.err != nil {
		return nil, rec.err
	}
	// In name order, so that a line with several wrong fields is always
	// told of the same one.
	for _, k := range slices.Sorted(maps.Keys(rec.fields)) {
		if clipShownFields[k] {
			// A line saved from GET /clips: its counts would be dropped
			// without a word, and the clips "moved" without their data.
			return nil, fmt.Errorf("%q is what the server shows of a stored clip, not part of one: leave it out "+
				"(a clip's impressions and clicks are the sums of its outcomes: import those with 'lift import outcomes')", k)
		}
		if !clipFields[k] {
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	c := &lift.Clip{}
	var err error
	if c.ID, err = stringField(rec.fields, "clip_id"); err != nil {
		return nil, err
	}
	for _, o := range []struct {
		name string
		dst  *map[string]any
	}{
		{"psychology_score", &c.PsychologyScore}, {"hook_strength", &c.HookStrength},
		{"novelty_score", &c.NoveltyScore}, {"emotion_data", &c.EmotionData},
	} {
		if *o.dst, err = objectField(rec, o.name); err != nil {
			return nil, err
		}
	}
	d, ok, err := numberField(rec, "duration")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errors.New("duration is required (seconds)")
	}
	c.Duration = d
	if v, ok, err := numberField(rec, "composite_score"); err != nil {
		return nil, err
	} else if ok {
		c.CompositeScore = &v
	}
	return c, c.Validate()
}

// clipsFromRecords returns the valid clips, rejecting the other rows and
// a clip_id that repeats an earlier row's.
func clipsFromRecords(recs []record, reject func(int, error)) []*lift.Clip {
	var clips []*lift.Clip
	seen := map[string]int{}
	for _, rec := range recs {
		c, err := clipFromRecord(rec)
		if err == nil {
			if first, dup := seen[c.ID]; dup {
				err = fmt.Errorf("clip_id %q repeats line %d", c.ID, first)
			}
		}
		if err != nil {
			reject(rec.line, err)
			continue
		}
		seen[c.ID] = rec.line
		clips = append(clips, c)
	}
	return clips
}

// outcomesFromRecords returns the valid outcomes and their lines,
// rejecting the other rows; whether their clips are stored is for
// storedClipsOnly to say.
func outcomesFromRecords(recs []record, reject func(int, error)) (out []*lift.Outcome, lines []int) {
	type keyed struct{ clip, key string }
	first := map[keyed]int{} // index in out of a key's first row
	for _, rec := range recs {
		o, err := outcomeFromRecord(rec)
		if err == nil && o.Key != "" {
			// An outcome_id on two rows of the file: the same outcome
			// twice (stored once), or a row's error with its line.
			k := keyed{o.ClipID, o.Key}
			if i, seen := first[k]; seen {
				// The store's rule for a repeat (a row without observed_at
				// matches any), told with the line of the first.
				if o.Same(out[i], !o.ObservedAt.IsZero()) != nil {
					err = fmt.Errorf("outcome_id %q of clip %q is on line %d with other counts or another observed_at", o.Key, o.ClipID, lines[i])
				}
			} else {
				first[k] = len(out)
			}
		}
		if err != nil {
			reject(rec.line, err)
			continue
		}
		out = append(out, o)
		lines = append(lines, rec.line)
	}
	return out, lines
}

// storedClipsOnly returns the outcomes whose clips are in db, rejecting
// the others (lines[i] is outcomes[i]'s line). A nil db has no clips.
func storedClipsOnly(ctx context.Context, db Store, outcomes []*lift.Outcome, lines []int, reject func(int, error)) ([]*lift.Outcome, error) {
	known := map[string]bool{}
	var out []*lift.Outcome
	for i, o := range outcomes {
		if db != nil && !known[o.ClipID] {
			_, err := db.GetClip(ctx, o.ClipID)
			switch {
			case err == nil:
				known[o.ClipID] = true
			case lift.KindOf(err) != lift.NotFound:
				return nil, err
			}
		}
		if !known[o.ClipID] {
			reject(lines[i], fmt.Errorf("clip_id %q is not a stored clip", o.ClipID))
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

func outcomeFromRecord(rec record) (*lift.Outcome, error) {
	if rec.err != nil {
		return nil, rec.err
	}
	for k := range rec.fields {
		if !outcomeFields[k] {
			return nil, fmt.Errorf("unknown field %q", k)
		}
	}
	o := &lift.Outcome{}
	var err error
	if o.ClipID, err = stringField(rec.fields, "clip_id"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"impressions", &o.Impressions}, {"clicks", &o.Clicks}} {
		v, ok, err := numberField(rec, f.name)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			return nil, fmt.Errorf("%s is required", f.name)
		case v != math.Trunc(v):
			return nil, fmt.Errorf("%s must be a whole number, got %v", f.name, v)
		case v < 0:
			return nil, fmt.Errorf("%s must not be negative, got %v", f.name, v)
		case v > lift.MaxOutcomeImpressions:
			return nil, fmt.Errorf("%s must be at most %d per outcome, got %v", f.name, int64(lift.MaxOutcomeImpressions), v)
		}
		*f.dst = int64(v)
	}
	if s, ok := rec.fields["observed_at"]; ok && s != nil { // null, like leaving it out, means now
		str, isStr := s.(string)
		if !isStr {
			return nil, fmt.Errorf("observed_at must be an RFC 3339 time such as 2026-11-26T10:00:00Z")
		}
		t, err := lift.ParseObservedAt(str, time.Now())
		if err != nil {
			return nil, err
		}
		o.ObservedAt = t
	}
	if v, ok := rec.fields["outcome_id"]; ok && v != nil {
		key, isStr := v.(string)
		switch {
		case !isStr:
			return nil, fmt.Errorf("outcome_id must be a string")
		case key == "": // (an empty CSV cell is no field at all)
			return nil, fmt.Errorf("outcome_id must not be empty (leave it out for none)")
		}
		o.Key = key
	}
	return o, o.Validate()
}

func stringField(f map[string]any, name string) (string, error) {
	v, ok := f[name]
	if !ok {
		return "", fmt.Errorf("%s is required", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", name)
	}
	return s, lift.ValidateClipID(s)
}

// numberField reads a JSON number, or a CSV cell holding one, as a
// finite float.
func numberField(rec record, name string) (float64, bool, error) {
	v, ok := rec.fields[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch v := v.(type) {
	case float64:
		return v, true, nil
	case string:
		if !rec.csv {
			break
		}
		x, err := dataset.ParseFloat(strings.TrimSpace(v))
		if err != nil || x != x || x > 1e300 || x < -1e300 {
			return 0, false, fmt.Errorf("%s must be a finite number, got %q", name, v)
		}
		return x, true, nil
	}
	return 0, false, fmt.Errorf("%s must be a JSON number, got %s", name, jsonExcerpt(v))
}

// objectField reads a JSON object, or a CSV cell holding one.
func objectField(rec record, name string) (map[string]any, error) {
	v, ok := rec.fields[name]
	if !ok || v == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case map[string]any:
		return v, nil
	case string:
		if !rec.csv {
			break
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			return nil, fmt.Errorf("%s must hold a JSON object: %v", name, strings.TrimPrefix(err.Error(), "json: "))
		}
		// A repeated key, as everywhere else (a JSON line's objects are
		// checked with the whole line).
		if err := strictjson.Check([]byte(v), nil); err != nil {
			return nil, fmt.Errorf("%s must hold a JSON object: %v", name, err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s must be a JSON object, got %s", name, jsonExcerpt(v))
}

// jsonExcerpt writes a decoded JSON value back, shortened, for messages:
// `"10"` says that a number was quoted.
func jsonExcerpt(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 40 {
		return string(b[:37]) + "..."
	}
	return string(b)
}
