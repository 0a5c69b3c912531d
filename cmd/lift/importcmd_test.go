package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lift/sqlite"
)

// run executes lift with args and returns exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	m := NewMain()
	var out, errb bytes.Buffer
	m.Stdout, m.Stderr = &out, &errb
	code := m.Exec(context.Background(), args)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImport(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	// Go's number syntax beyond a data file's is refused.
	hexCSV := writeFile(t, "hex.csv", "clip_id,duration\nh1,0x1p4\nh2,1_000\nh3,+5\n")
	code, out, _ := run(t, "import", "clips", hexCSV, "--db", db, "--skip-invalid")
	if code != 0 || !strings.Contains(out, `"accepted":1`) || !strings.Contains(out, `"rejected":2`) ||
		!strings.Contains(out, `duration must be a finite number, got \"0x1p4\"`) {
		t.Fatalf("import of hexadecimal and separated numbers: exit %d, %s", code, out)
	}
	clipsCSV := writeFile(t, "clips.csv", `clip_id,duration,composite_score,psychology_score,emotion_data
a,12,0.5,"{""composite"":0.7}","{""has_face"":true,""priority_score"":0.3}"
b,30,,,
`)
	code, out, stderr := run(t, "import", "clips", clipsCSV, "--db", db)
	if code != 0 || !strings.Contains(out, `"accepted":2`) {
		t.Fatalf("import clips: exit %d, %s %s", code, out, stderr)
	}

	// One bad row among good ones: nothing is kept, line numbers are reported.
	outcomes := writeFile(t, "outcomes.jsonl", `{"clip_id":"a","impressions":100,"clicks":5}
{"clip_id":"b","impressions":10,"clicks":11}
{"clip_id":"zzz","impressions":10,"clicks":1}
not json
{"clip_id":"b","impressions":50,"clicks":2,"observed_at":"2026-11-01T00:00:00Z"}
{"clip_id":"b","impressions":50,"clicks":2,"observed_at":"2999-11-01T00:00:00Z"}
{"clip_id":"a","impressions":5,"clicks":1,"observed_at":null}
{"clip_id":"a","impressions":5,"clicks":1,"impressions":100}
`)
	code, out, stderr = run(t, "import", "outcomes", outcomes, "--db", db)
	if code != 1 || !strings.Contains(stderr, "nothing imported") {
		t.Fatalf("import with bad rows: exit %d, stderr %q", code, stderr)
	}
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if rep.Rejected != 5 || rep.Imported || len(rep.Errors) != 5 ||
		rep.Errors[0].Line != 2 || rep.Errors[1].Line != 3 || rep.Errors[2].Line != 4 || rep.Errors[3].Line != 6 || rep.Errors[4].Line != 8 ||
		!strings.Contains(rep.Errors[3].Reason, "more than an hour ahead") ||
		!strings.Contains(rep.Errors[4].Reason, `key "impressions" appears more than once`) {
		t.Errorf("report = %+v, want lines 2, 3, 4, 6, 8 rejected and nothing imported", rep)
	}
	s := MustStartServer(t, nil, "--db", db)
	if _, body := s.Do("GET", "/clips/a", nil); body["impressions"] != 0.0 {
		t.Errorf("a rejected import wrote outcomes: %v", body)
	}
	s.Stop()

	code, out, _ = run(t, "import", "outcomes", outcomes, "--db", db, "--skip-invalid")
	if code != 0 || !strings.Contains(out, `"accepted":3`) || !strings.Contains(out, `"rejected":5`) {
		t.Fatalf("--skip-invalid: exit %d, %s", code, out)
	}
	s = MustStartServer(t, nil, "--db", db)
	if _, body := s.Do("GET", "/clips/b", nil); body["impressions"] != 50.0 || body["clicks"] != 2.0 {
		t.Errorf("clip b after import = %v", body)
	}
}

func TestImportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"import"},
		{"import", "widgets", "x.csv"},
		{"import", "clips", "x.parquet"},
	} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, stderr := run(t, "import", "clips", filepath.Join(t.TempDir(), "missing.csv")); code != 1 || stderr == "" {
		t.Errorf("missing file: exit %d %q, want 1 with a message", code, stderr)
	}
}

func TestHelpAndUnknownCommand(t *testing.T) {
	if code, out, _ := run(t, "--help"); code != 0 || !strings.Contains(out, "serve") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	if code, _, _ := run(t); code != 2 {
		t.Errorf("no command: exit %d, want 2", code)
	}
	if code, _, _ := run(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	for name := range commands {
		if code, _, _ := run(t, name, "--help"); code != 0 {
			t.Errorf("%s --help: exit %d, want 0", name, code)
		}
	}
}

// TestUsageErrorsTouchNoDatabase: a word where a flag belongs, a --db of
// an unknown scheme and a malformed model version are usage errors (exit
// 2, one line), and none of them creates a database.
func TestUsageErrorsTouchNoDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // where a default or misread --db would be created
	db := "sqlite:" + filepath.Join(dir, "x.db")
	for _, args := range [][]string{
		{"migrate", db},
		{"train", "typo"},
		{"demo", "50", "--clips", "5"},
		{"serve", "extra"},
		{"serve", "--addr", "bogus"},
		{"migrate", "--db", "bogus://x"},
		{"migrate", "--db", "postgress://u:secret@h/db"},
		{"models", "activate", "1x", "--db", db},
		{"models", "activate", "1.5", "--db", db},
	} {
		code, out, stderr := run(t, args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || strings.Contains(stderr, "secret") {
			t.Errorf("lift %v: exit %d, stdout %q, stderr %q; want exit 2 and one line without the password", args, code, out, stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("usage errors left files behind: %v", entries)
	}
}

// TestUserErrorsReadAsTheirMessage: a failure that is the user's (an
// unknown model version) prints its message, not the internal names of
// the calls it passed through.
func TestUserErrorsReadAsTheirMessage(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "x.db")
	if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
		t.Fatal(stderr)
	}
	code, _, stderr := run(t, "models", "activate", "999", "--db", db)
	if code != 1 || stderr != "lift: model version 999 not found\n" {
		t.Errorf("activate 999: exit %d, stderr %q", code, stderr)
	}
}

// TestBadInputCreatesNoDatabase: an import whose input is bad (missing,
// malformed, in the wrong format, an invalid row, outcomes of clips that
// are not stored) fails before the database is opened, so neither the
// default ./lift.db nor a --db file comes into being.
func TestBadInputCreatesNoDatabase(t *testing.T) {
	files := map[string]string{
		"bad.csv":          "a,b\n1,2\n",
		"clips.tsv.csv":    "clip_id\tduration\na\t12\n",
		"twice.csv":        "clip_id,duration,clip_id\na,12,b\n",
		"clips.csv":        "clip_id,duration\na,12\n",
		"outcomes.jsonl":   `{"clip_id":"a","impressions":10,"clicks":11}` + "\n",
		"outcomes.csv":     "clip_id,impressions,clicks\na,10,1\n",
		"empty.json":       "",
		"truncated.json":   `{"learner":{"gradient_booster":`,
		"not-a-model.json": `{"clip_id":"a"}`,
	}
	// A well-formed model over columns that are not Lift's features.
	src := t.TempDir()
	t.Chdir(src)
	if err := os.WriteFile("xy.csv", []byte("x,y,label\n1,2,0\n2,1,1\n3,3,0\n4,0,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "gbdt", "train", "--data", "xy.csv", "--label", "label", "--rounds", "2", "--out", "m.json"); code != 0 {
		t.Fatalf("gbdt train: exit %d: %s", code, stderr)
	}
	otherFeatures, err := os.ReadFile("m.json")
	if err != nil {
		t.Fatal(err)
	}
	files["other-features.json"] = string(otherFeatures)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"clips: unknown column", []string{"import", "clips", "bad.csv"}, `"a" is not a column of clips`},
		{"clips: tab-separated", []string{"import", "clips", "clips.tsv.csv"}, "looks tab-separated"},
		{"clips: a column twice", []string{"import", "clips", "twice.csv"}, `column "clip_id" appears twice in the header, at positions 1 and 3`},
		{"clips: CSV read as JSON lines", []string{"import", "clips", "clips.csv", "--format", "jsonl"}, "malformed JSON"},
		{"clips: missing file", []string{"import", "clips", "missing.csv"}, "missing.csv"},
		{"outcomes: invalid row", []string{"import", "outcomes", "outcomes.jsonl"}, "clicks"},
		{"outcomes: no database, so no stored clip", []string{"import", "outcomes", "outcomes.csv"}, `clip_id "a" is not a stored clip`},
		{"models: missing file", []string{"models", "import", "missing.json"}, "missing.json"},
		{"models: empty file", []string{"models", "import", "empty.json"}, "not a usable XGBoost JSON model"},
		{"models: truncated", []string{"models", "import", "truncated.json"}, "truncated"},
		{"models: not a model", []string{"models", "import", "not-a-model.json"}, "learner"},
		{"models: other features", []string{"models", "import", "other-features.json"}, `the model's feature 0 is "x"`},
	} {
		for _, db := range []string{"", "sqlite:x.db", "y.db"} {
			name := tt.name + ", default --db"
			if db != "" {
				name = tt.name + ", --db " + db
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				t.Chdir(dir)
				for name, body := range files {
					if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args := tt.args
				if db != "" {
					args = append(args[:len(args):len(args)], "--db", db)
				}
				code, _, stderr := run(t, args...)
				if code != 1 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
					t.Errorf("exit %d, stderr %q; want exit 1 and one line mentioning %q", code, stderr, tt.want)
				}
				for _, name := range []string{"lift.db", "x.db", "y.db"} {
					if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
						t.Errorf("bad input created %s", name)
					}
				}
			})
		}
	}
}

// TestImportSkipsAllInvalidWithoutDatabase: with --skip-invalid and no
// valid row there is nothing to store, and no database is created.
func TestImportSkipsAllInvalidWithoutDatabase(t *testing.T) {
	t.Chdir(t.TempDir())
	p := writeFile(t, "bad.csv", "clip_id,duration\nx,-5\n")
	code, out, stderr := run(t, "import", "clips", p, "--skip-invalid")
	if code != 0 || !strings.Contains(out, `"accepted":0,"rejected":1,"imported":true`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, err := os.Stat("lift.db"); err == nil {
		t.Errorf("an import of nothing created lift.db")
	}
}

// TestImportJSONLinesAreTyped: JSON lines are as strict as the HTTP API
// (a number is a JSON number, a score an object), while a CSV cell, text
// by nature, holds a number or an object as text.
func TestImportJSONLinesAreTyped(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	clips := writeFile(t, "clips.csv", "clip_id,duration,psychology_score\nj1,12,\"{\"\"composite\"\":0.7}\"\n")
	if code, out, stderr := run(t, "import", "clips", clips, "--db", db); code != 0 || !strings.Contains(out, `"accepted":1`) {
		t.Fatalf("CSV clips with text cells: exit %d, %s %s", code, out, stderr)
	}
	for _, tt := range []struct {
		kind, line string
		reason     string // "" if the line is accepted
	}{
		{"outcomes", `{"clip_id":"j1","impressions":10,"clicks":1}`, ""},
		{"outcomes", `{"clip_id":"j1","impressions":"10","clicks":1}`, `impressions must be a JSON number, got "10"`},
		{"outcomes", `{"clip_id":"j1","impressions":10,"clicks":"1"}`, `clicks must be a JSON number, got "1"`},
		{"outcomes", `{"clip_id":"j1","impressions":true,"clicks":1}`, "impressions must be a JSON number, got true"},
		{"outcomes", `{"clip_id":"j1","impressions":[10],"clicks":1}`, "impressions must be a JSON number, got [10]"},
		{"outcomes", `{"clip_id":"j1","impressions":10.5,"clicks":1}`, "impressions must be a whole number, got 10.5"},
		{"outcomes", `{"clip_id":"j1","impressions":1e20,"clicks":1}`, "impressions must be at most 1000000000000 per outcome, got 1e+20"},
		{"outcomes", `{"clip_id":"j1","impressions":10}`, "clicks is required"},
		{"clips", `{"clip_id":"j2","duration":7}`, ""},
		{"clips", `{"clip_id":"j2","duration":"7"}`, `duration must be a JSON number, got "7"`},
		{"clips", `{"clip_id":"j2","duration":7,"composite_score":"0.5"}`, `composite_score must be a JSON number, got "0.5"`},
		{"clips", `{"clip_id":"j2","duration":7,"psychology_score":{"composite":0.8}}`, ""},
		{"clips", `{"clip_id":"j2","duration":7,"psychology_score":"{\"composite\":0.8}"}`, `psychology_score must be a JSON object, got "{\"composite\":0.8}"`},
		{"clips", `{"clip_id":"j2","duration":7,"emotion_data":[1]}`, "emotion_data must be a JSON object, got [1]"},
		{"clips", `{"clip_id":"j2","duration":7,"hook_strength":0.6}`, "hook_strength must be a JSON object, got 0.6"},
		// A clip as GET answers it: its counts would be dropped unseen.
		{"clips", `{"clip_id":"j2","duration":7,"impressions":100}`, `"impressions" is what the server shows of a stored clip, not part of one: ` +
			`leave it out (a clip's impressions and clicks are the sums of its outcomes: import those with 'lift import outcomes')`},
	} {
		t.Run(tt.line, func(t *testing.T) {
			p := writeFile(t, tt.kind+".jsonl", tt.line+"\n")
			code, out, stderr := run(t, "import", tt.kind, p, "--db", db)
			var rep importReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("exit %d, report %q (%v), stderr %q", code, out, err, stderr)
			}
			switch {
			case tt.reason == "" && (code != 0 || rep.Accepted != 1):
				t.Errorf("exit %d, report %+v, stderr %q; want it accepted", code, rep, stderr)
			case tt.reason != "" && (code != 1 || rep.Rejected != 1 || rep.Errors[0].Reason != tt.reason):
				t.Errorf("exit %d, report %+v; want it rejected because %q", code, rep, tt.reason)
			}
		})
	}
}

// TestImportRefusesTextPostgreSQLCannotHold: a NUL character in a clip's
// score object is a row's error, with its line, on either store; it used
// to fail a whole PostgreSQL import at the database, --skip-invalid or not.
func TestImportRefusesTextPostgreSQLCannotHold(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	p := writeFile(t, "clips.jsonl", `{"clip_id":"a","duration":10}
{"clip_id":"b","duration":10,"psychology_score":{"composite":0.5,"n":"a\u0000b"}}
{"clip_id":"c","duration":10}
`)
	code, out, stderr := run(t, "import", "clips", p, "--db", db, "--skip-invalid")
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("import: exit %d, %q %q (%v)", code, out, stderr, err)
	}
	if rep.Accepted != 2 || rep.Rejected != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 2 ||
		!strings.Contains(rep.Errors[0].Reason, "NUL") {
		t.Errorf("report = %+v, want line 2 rejected for its NUL and the other two imported", rep)
	}
}

// TestImportChecksTheCSVHeader: a CSV whose first line is not a header of
// its kind is refused as a whole, before any database is opened: a file
// without its header line lost its first row in silence, and the other
// kind's file was refused row by row for fields named at random.
func TestImportChecksTheCSVHeader(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct{ kind, body, want string }{
		{"outcomes", "c1,10,1\n", `"c1" is not a column of outcomes`},
		{"clips", "foo,bar\n", `"foo" is not a column of clips`},
		{"outcomes", "clip_id,impressions\nc1,10\n", `no "clicks" column`},
		{"outcomes", "clip_id,duration,hook_strength\nc1,10,\n", `"duration" is not a column of outcomes`},
	} {
		p := writeFile(t, "f.csv", c.body)
		code, out, stderr := run(t, "import", c.kind, p, "--skip-invalid")
		if code != 1 || out != "" || !strings.Contains(stderr, "line 1: "+c.want) {
			t.Errorf("import %s %q: exit %d, stdout %q, stderr %q; want exit 1 naming %s", c.kind, c.body, code, out, stderr, c.want)
		}
	}
	if _, err := os.Stat("lift.db"); err == nil {
		t.Errorf("a refused import created lift.db")
	}
	// A spreadsheet's trailing comma: an unnamed, empty column.
	if code, out, stderr := run(t, "import", "clips", writeFile(t, "t.csv", "clip_id,duration,\na,12,\n")); code != 0 || !strings.Contains(out, `"accepted":1`) {
		t.Errorf("a header with a trailing comma: exit %d, %s %s", code, out, stderr)
	}
	if code, _, stderr := run(t, "import", "clips", writeFile(t, "o.txt", "clip_id,duration\n")); code != 2 || !strings.Contains(stderr, "pass --format") {
		t.Errorf("a file whose name tells no format: exit %d, %q", code, stderr)
	}
}

// TestImportTooLongLine: a JSON line past the limit is named by its
// number and the limit, and nothing is imported.
func TestImportTooLongLine(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	long := `{"clip_id":"a","duration":1,"emotion_data":{"x":"` + strings.Repeat("a", maxJSONLine) + `"}}`
	f := writeFile(t, "long.jsonl", "{\"clip_id\":\"b\",\"duration\":1}\n\n"+long+"\n")
	code, _, stderr := run(t, "import", "clips", f, "--db", db)
	if code != 1 || !strings.Contains(stderr, "line 3 is longer than 16 MiB") {
		t.Errorf("import of a too long line: exit %d, %q; want 1 naming line 3", code, stderr)
	}
}

// TestImportRefusesWhatHTTPRefuses: a row the HTTP API would refuse is
// refused by the import too, not stored as something the file does not
// say: text that is not UTF-8 (decoding turns it into U+FFFD, so a clip
// would be stored under an id the file never had) and a key given twice
// in a CSV cell's object (the last one would win in silence).
func TestImportRefusesWhatHTTPRefuses(t *testing.T) {
	for _, c := range []struct{ name, body, want string }{
		{"id.jsonl", "{\"clip_id\":\"j\xff2\",\"duration\":5}\n", "UTF-8"},
		{"value.jsonl", "{\"clip_id\":\"j4\",\"duration\":5,\"psychology_score\":{\"name\":\"a\xffb\"}}\n", "UTF-8"},
		{"id.csv", "clip_id,duration\nj\xff2,5\n", "UTF-8"},
		{"value.csv", "clip_id,duration,psychology_score\nc4,5,\"{\"\"n\"\":\"\"a\xffb\"\"}\"\n", "UTF-8"},
		{"dupkey.csv", "clip_id,duration,psychology_score\nc1,5,\"{\"\"composite\"\":1,\"\"composite\"\":2}\"\n", "appears more than once"},
	} {
		db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
		code, out, stderr := run(t, "import", "clips", writeFile(t, c.name, c.body), "--db", db)
		if code == 0 || !strings.Contains(out, `"imported":false`) || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d, %s %s; want the row refused for %q and nothing imported", c.name, code, out, stderr, c.want)
		}
	}
	// What spreadsheets and editors write: a byte order mark before the
	// first JSON line; two trailing commas, two unnamed columns.
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	for name, body := range map[string]string{
		"bom.jsonl":  "\ufeff{\"clip_id\":\"a\",\"duration\":5}\n",
		"commas.csv": "clip_id,duration,,\nb,6,,\n",
	} {
		if code, out, stderr := run(t, "import", "clips", writeFile(t, name, body), "--db", db); code != 0 || !strings.Contains(out, `"accepted":1`) {
			t.Errorf("%s: exit %d, %s %s; want the row accepted", name, code, out, stderr)
		}
	}
	if code, _, stderr := run(t, "import", "clips", writeFile(t, "dup.csv", "clip_id,duration,clip_id\na,1,b\n"), "--db", db); code != 1 || !strings.Contains(stderr, `column "clip_id" appears twice in the header, at positions 1 and 3`) {
		t.Errorf("a column named twice: exit %d, %q", code, stderr)
	}
}

// TestImportOutcomeIDs: an outcomes file with outcome_id can be imported
// again (after a failure whose result was unknown, say) without counting
// anything twice; the report says how many were already stored.
func TestImportOutcomeIDs(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
	if code, out, stderr := run(t, "import", "clips", writeFile(t, "c.csv", "clip_id,duration\na,10\n"), "--db", db); code != 0 {
		t.Fatalf("clips: %d %s %s", code, out, stderr)
	}
	f := writeFile(t, "o.csv", "clip_id,impressions,clicks,outcome_id\na,100,5,day-1\na,50,1,day-2\na,50,1,day-2\n")
	for i, want := range []string{`"accepted":3,"repeated":1`, `"accepted":3,"repeated":3`} {
		if code, out, stderr := run(t, "import", "outcomes", f, "--db", db); code != 0 || !strings.Contains(out, want) {
			t.Errorf("import %d: exit %d, %s %s; want %s", i+1, code, out, stderr, want)
		}
	}
	conflict := writeFile(t, "x.jsonl", `{"clip_id":"a","impressions":100,"clicks":6,"outcome_id":"day-1"}`+"\n")
	if code, _, stderr := run(t, "import", "outcomes", conflict, "--db", db); code == 0 || !strings.Contains(stderr, "day-1") {
		t.Errorf("a conflicting outcome_id: exit %d, %s", code, stderr)
	}
	// In the file itself: a row's error with its line, which
	// --skip-invalid skips; an empty outcome_id in a JSON line likewise.
	inFile := writeFile(t, "y.jsonl", `{"clip_id":"a","impressions":7,"clicks":1,"outcome_id":"day-3"}
{"clip_id":"a","impressions":8,"clicks":1,"outcome_id":"day-3"}
{"clip_id":"a","impressions":9,"clicks":1,"outcome_id":""}
`)
	code, out, stderr := run(t, "import", "outcomes", inFile, "--db", db, "--skip-invalid")
	if code != 0 || !strings.Contains(out, `"accepted":1`) || !strings.Contains(out, `is on line 1 with other counts`) || !strings.Contains(out, `"line":3`) {
		t.Errorf("conflicts within the file: exit %d, %s %s", code, out, stderr)
	}
	store, err := sqlite.Open(context.Background(), strings.TrimPrefix(db, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if c, err := store.GetClip(context.Background(), "a"); err != nil || c.Impressions != 157 || c.Clicks != 7 {
		t.Errorf("clip a: %+v, %v; want 157 impressions and 7 clicks", c, err)
	}
}
