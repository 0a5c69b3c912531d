package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
`)
	code, out, stderr = run(t, "import", "outcomes", outcomes, "--db", db)
	if code != 1 || !strings.Contains(stderr, "nothing imported") {
		t.Fatalf("import with bad rows: exit %d, stderr %q", code, stderr)
	}
	var rep importReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if rep.Rejected != 3 || rep.Imported || len(rep.Errors) != 3 ||
		rep.Errors[0].Line != 2 || rep.Errors[1].Line != 3 || rep.Errors[2].Line != 4 {
		t.Errorf("report = %+v, want lines 2, 3, 4 rejected and nothing imported", rep)
	}
	s := MustStartServer(t, nil, "--db", db)
	if _, body := s.Do("GET", "/clips/a", nil); body["impressions"] != 0.0 {
		t.Errorf("a rejected import wrote outcomes: %v", body)
	}
	s.Stop()

	code, out, _ = run(t, "import", "outcomes", outcomes, "--db", db, "--skip-invalid")
	if code != 0 || !strings.Contains(out, `"accepted":2`) || !strings.Contains(out, `"rejected":3`) {
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
