package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBands: the band of a prediction comes from the thresholds the
// server was started with (--bands, else LIFT_BANDS, else the defaults),
// not from hard-coded ones.
func TestServeBands(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the band of the heuristic's 0.045
	}{
		{"default", nil, nil, "medium"},
		{"flag", nil, []string{"--bands", "0.04,0.02,0.01"}, "viral"},
		{"flag high", nil, []string{"--bands=0.3,0.045,0.01"}, "high"},
		{"env", map[string]string{"LIFT_BANDS": "0.2,0.1,0.05"}, nil, "low"},
		{"flag wins", map[string]string{"LIFT_BANDS": "0.2,0.1,0.05"}, []string{"--bands", "0.04,0.02,0.01"}, "viral"},
		{"flag wins over a bad env", map[string]string{"LIFT_BANDS": "bogus"}, []string{"--bands", "0.04,0.02,0.01"}, "viral"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
			s := MustStartServer(t, tt.env, append([]string{"--db", db, "--export", ""}, tt.args...)...)
			if code, _ := s.Do("PUT", "/clips/c1", clipBody(22)); code != 201 {
				t.Fatalf("PUT clip = %d", code)
			}
			// Heuristic: 0.7*0.05 + 0.5*0.02 = 0.045.
			code, body := s.Do("POST", "/predict/ctr?clip_id=c1", nil)
			if code != 200 || body["predicted_band"] != tt.want {
				t.Errorf("predict clip c1 = %d %v; want band %s", code, body, tt.want)
			}
			code, body = s.Do("POST", "/predict/ctr", map[string]any{"features": map[string]any{"composite_score": 0.7, "emotion_priority": 0.5, "duration": 22}})
			if code != 200 || body["predicted_band"] != tt.want {
				t.Errorf("predict inline features = %d %v; want band %s", code, body, tt.want)
			}
		})
	}
}

// TestServeExperimentSeed: the experiments' draws follow the seed the
// server was started with (--experiment-seed, else LIFT_EXPERIMENT_SEED,
// else the built-in one), so that an operator can keep them unpredictable.
func TestServeExperimentSeed(t *testing.T) {
	draws := func(env map[string]string, args ...string) string {
		t.Helper()
		db := "sqlite:" + filepath.Join(t.TempDir(), "lift.db")
		s := MustStartServer(t, env, append([]string{"--db", db, "--export", ""}, args...)...)
		defer s.Stop()
		exp := map[string]any{"id": "e", "policy": map[string]any{"name": "epsilon-greedy", "params": map[string]any{"epsilon": 1}},
			"variants": []map[string]any{{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}}}
		if code, body := s.Do("POST", "/experiments", exp); code != 201 {
			t.Fatalf("create = %d %v", code, body)
		}
		var got []string
		for i := range 24 {
			code, d := s.Do("POST", "/experiments/e/decide", map[string]any{"event_id": fmt.Sprintf("ev%d", i)})
			if code != 200 {
				t.Fatalf("decide = %d %v", code, d)
			}
			got = append(got, d["variant"].(string))
		}
		return strings.Join(got, "")
	}
	builtIn := draws(nil)
	if again := draws(nil); again != builtIn {
		t.Fatalf("the same seed drew %s, then %s", builtIn, again)
	}
	flag := draws(nil, "--experiment-seed", "12345")
	if flag == builtIn {
		t.Errorf("--experiment-seed 12345 drew as the built-in seed: %s", flag)
	}
	if env := draws(map[string]string{"LIFT_EXPERIMENT_SEED": "12345"}); env != flag {
		t.Errorf("LIFT_EXPERIMENT_SEED=12345 drew %s, --experiment-seed 12345 %s", env, flag)
	}
	if wins := draws(map[string]string{"LIFT_EXPERIMENT_SEED": "bogus"}, "--experiment-seed", "12345"); wins != flag {
		t.Errorf("the flag over a bad variable drew %s, want %s", wins, flag)
	}
	code, _, stderr := runRefused(t, map[string]string{"LIFT_EXPERIMENT_SEED": "bogus"}, "serve", "--addr", "127.0.0.1:0",
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "x.db"))
	if code != 2 || !strings.Contains(stderr, "LIFT_EXPERIMENT_SEED") || strings.Contains(stderr, "bogus") {
		t.Errorf("a bad LIFT_EXPERIMENT_SEED: exit %d, %q; want a usage error naming it, not its value", code, stderr)
	}
	// The variable may hold a secret: --help shows the built-in default.
	code, out, _ := runRefused(t, map[string]string{"LIFT_EXPERIMENT_SEED": "123456789"}, "serve", "--help")
	if code != 0 || strings.Contains(out, "123456789") || !strings.Contains(out, "experiment-seed") {
		t.Errorf("serve --help with LIFT_EXPERIMENT_SEED set: exit %d, %q", code, out)
	}
	// lift demo's simulated traffic reads the same variable.
	code, _, stderr = runRefused(t, map[string]string{"LIFT_EXPERIMENT_SEED": "bogus"}, "demo", "--db",
		"sqlite:"+filepath.Join(t.TempDir(), "d.db"), "--clips", "10")
	if code != 2 || !strings.Contains(stderr, "LIFT_EXPERIMENT_SEED") {
		t.Errorf("lift demo with a bad LIFT_EXPERIMENT_SEED: exit %d, %q", code, stderr)
	}
}

// TestServeBandsOfAModel: a trained model's predictions are banded by
// the server's thresholds too.
func TestServeBandsOfAModel(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	if code, _, stderr := run(t, "demo", "--db", db, "--clips", "800"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	if code, out, stderr := run(t, "train", "--db", db, "--export", ""); code != 0 || !strings.Contains(out, `"promoted":true`) {
		t.Fatalf("train: exit %d: %s %s", code, out, stderr)
	}
	for _, tt := range []struct{ bands, want string }{{"0.003,0.002,0.001", "viral"}, {"0.99,0.98,0.97", "low"}} {
		s := MustStartServer(t, nil, "--db", db, "--export", "", "--bands", tt.bands)
		code, body := s.Do("POST", "/predict/ctr?clip_id=demo-0001", nil)
		if code != 200 || body["model_version"] == nil || body["predicted_band"] != tt.want {
			t.Errorf("--bands %s: predict = %d %v; want a model's answer, band %s", tt.bands, code, body, tt.want)
		}
		s.Stop()
	}
}

// runRefused is run for a command line that must not get as far as
// serving: a `lift serve` that starts listening anyway is stopped at once
// and the test fails, rather than hanging on a server.
func runRefused(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	m := NewMain()
	var out, errb bytes.Buffer
	m.Stdout, m.Stderr = &out, &errb
	m.Getenv = func(k string) string { return env[k] }
	m.OnListen = func(addr string) {
		t.Errorf("lift %v started serving on %s", args, addr)
		cancel()
	}
	code := m.Exec(ctx, args)
	return code, out.String(), errb.String()
}

// TestNumericFlagErrors: a numeric flag out of its range (negative,
// NaN, infinite, too small) is a usage error of one line naming the flag,
// and nothing is created.
func TestNumericFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--tolerance", "-1"}, "--tolerance must be a finite fraction, 0 or more"},
		{[]string{"train", "--tolerance", "NaN"}, "--tolerance must be"},
		{[]string{"train", "--tolerance", "Inf"}, "--tolerance must be"},
		{[]string{"train", "--early-stopping", "-5"}, "--early-stopping must be 0 (off) or more, got -5"},
		{[]string{"train", "--early-stopping", "-1"}, "--early-stopping must be 0 (off) or more, got -1"},
		{[]string{"train", "--rounds", "-1"}, "--rounds must be 1 or more"},
		{[]string{"train", "--max-depth", "-3"}, "--max-depth must be 1 or more"},
		{[]string{"train", "--eta", "-0.1"}, "--eta must be a finite number > 0"},
		{[]string{"train", "--eta", "NaN"}, "--eta must be"},
		{[]string{"train", "--eta", "+Inf"}, "--eta must be"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--bands", "0.03,0.05,0.08"}, "--bands: band thresholds must satisfy 1 > viral > high > medium > 0"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--refresh", "50ms"}, "--refresh must be at least 100ms, got 50ms"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--refresh", "-1s"}, "--refresh must be at least 100ms"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--train-every", "-1h"}, "--train-every must be at least 1m"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--train-every", "0s"}, "--train-every must be at least 1m, got 0s"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--bands", "0.08,0.05"}, "--bands: want three thresholds VIRAL,HIGH,MEDIUM"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--bands", "0.08,0.05,1.5"}, "--bands: band thresholds must satisfy"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--bands", "0.08,x,0.03"}, `--bands: band threshold "x" is not a number`},
		{[]string{"demo", "--clips", "0"}, "--clips must be in [1, 1000000], got 0"},
		{[]string{"serve", "--addr", "127.0.0.1:99999"}, `--addr "127.0.0.1:99999": "99999" is not a port`},
		{[]string{"serve", "--addr", "127.0.0.1:-1"}, `is not a port`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--bands", "0.08,0.08,0.03"}, "--bands: band thresholds must satisfy"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // where the default --db would be created
			code, out, stderr := runRefused(t, nil, tt.args...)
			if code != 2 || out != "" || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and one line saying %q", code, out, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a usage error left files behind: %v", entries)
			}
		})
	}
	// A bad LIFT_BANDS is named as such.
	t.Chdir(t.TempDir())
	code, _, stderr := runRefused(t, map[string]string{"LIFT_BANDS": "0.5"}, "serve", "--addr", "127.0.0.1:0")
	if code != 2 || !strings.HasPrefix(stderr, "lift: LIFT_BANDS: want three thresholds") {
		t.Errorf("LIFT_BANDS=0.5: exit %d, stderr %q; want exit 2 naming LIFT_BANDS", code, stderr)
	}
}

// TestDBValueMistakes: a --db that starts with a scheme other than
// sqlite:, postgres:// and postgresql:// is a usage error; a SQLite file
// in a directory that does not exist is an error, and the directory is
// not created; the commands that need stored data refuse a SQLite file
// that does not exist instead of creating an empty one.
func TestDBValueMistakes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "--db", "bogus:x"}, 2, `unknown database scheme "bogus:" (use sqlite:PATH, a file path, postgres://..., postgresql://... or host=... dbname=...)`},
		{[]string{"migrate", "--db", "sqlite3:lift.db"}, 2, `unknown database scheme "sqlite3:"`},
		{[]string{"migrate", "--db", "file:lift.db"}, 2, `unknown database scheme "file:"`},
		{[]string{"migrate", "--db", "postgres:lift"}, 2, `unknown database scheme "postgres:"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--db", "mysql://u:secret@h/db"}, 2, `unknown database scheme "mysql:"`},
		{[]string{"migrate", "--db", "sqlite:" + filepath.Join(dir, "missing", "sub", "x.db")}, 1,
			"directory " + filepath.Join(dir, "missing", "sub") + " does not exist"},
		{[]string{"demo", "--db", filepath.Join(dir, "missing", "x.db")}, 1, "directory " + filepath.Join(dir, "missing") + " does not exist"},
		{[]string{"models", "list", "--db", "sqlite:typo.db"}, 1, "the database does not exist"},
		{[]string{"models", "activate", "1", "--db", "sqlite:typo.db"}, 1, "the database does not exist"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, stderr := runRefused(t, nil, tt.args...)
			if code != tt.code || out != "" || !strings.Contains(stderr, tt.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
				strings.Contains(stderr, "secret") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and one line saying %q", code, out, stderr, tt.code, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left files behind: %v", entries)
			}
		})
	}

	// The nightly job on a database that is not there fails (exit 1,
	// where cron's mail or the CronJob's status shows it) with where it
	// looked; a missing database is not "not enough data" (exit 0).
	// Nothing is created.
	for _, db := range []string{"sqlite:typo.db", "typo.db"} {
		code, out, stderr := run(t, "train", "--db", db)
		if code != 1 || out != "" || !strings.Contains(stderr, "the database does not exist: no file typo.db") {
			t.Errorf("train --db %s: exit %d, stdout %q, stderr %q; want exit 1 naming the missing file", db, code, out, stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("train --db %s left files behind: %v", db, entries)
		}
	}

	// A plain path, a drive-like one-letter prefix and a colon later in
	// the name are paths; a database that exists is trained on.
	for _, db := range []string{"lift.db", "sqlite:a.db", "C:lift.db", "./x:y.db", filepath.Join(dir, "abs.db")} {
		if code, _, stderr := run(t, "migrate", "--db", db); code != 0 {
			t.Errorf("migrate --db %s: exit %d: %s", db, code, stderr)
		}
	}
	for _, name := range []string{"lift.db", "a.db", "C:lift.db", "x:y.db", "abs.db"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("migrate did not create %s: %v", name, err)
		}
	}
	if code, out, stderr := run(t, "train", "--db", "lift.db"); code != 0 || !strings.Contains(stderr, "Not enough data") {
		t.Errorf("train on an existing empty database: exit %d, %s %s", code, out, stderr)
	}
	if code, out, stderr := run(t, "models", "list", "--db", "sqlite:a.db"); code != 0 || !strings.Contains(out, `"models":[]`) {
		t.Errorf("models list on an existing database: exit %d, %s %s", code, out, stderr)
	}
}

func TestHasScheme(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"bogus:x", true}, {"sqlite3:x", true}, {"postgres://h/db", true}, {"git+ssh://x", true}, {"ab:", true},
		{"lift.db", false}, {"C:lift.db", false}, {`C:\lift.db`, false}, {"./a:b", false}, {"/tmp/a:b", false},
		{"1a:b", false}, {":x", false}, {"", false}, {"a.b:c", false}, {"lift db:x", false},
	} {
		if got := hasScheme(tt.in); got != tt.want {
			t.Errorf("hasScheme(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestOpenExistingDB: errNoDatabase for a SQLite file that is not
// there, which is then still not there.
func TestOpenExistingDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	m := NewMain()
	defer m.Close()
	db, err := m.openExistingDB(t.Context(), "sqlite:"+path)
	if db != nil || !errors.Is(err, errNoDatabase) {
		t.Errorf("openExistingDB = %v, %v; want errNoDatabase", db, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists after openExistingDB: %v", path, err)
	}
}

// TestPostgresDSNForms: libpq's keyword/value form goes to PostgreSQL (it
// used to become a SQLite file named after it, password and all), and
// messages hide every form of password.
func TestPostgresDSNForms(t *testing.T) {
	for _, tt := range []struct {
		dsn      string
		postgres bool
		redacted string
	}{
		{"host=127.0.0.1 port=1 user=lift dbname=x password=SECRETPW", true, "host=127.0.0.1 port=1 user=lift dbname=x password=xxxxx"},
		{"  dbname=lift", true, "  dbname=lift"},
		{"pool_max_conns=4 host=h password=se\\ cret", true, "pool_max_conns=4 host=h password=xxxxx"},
		{"password='a b\\'c' host=h", true, "password=xxxxx host=h"},
		{"postgres://lift:SECRETPW@h:5432/x", true, "postgres://lift:xxxxx@h:5432/x"},
		{"postgres://lift@h/x?sslmode=disable&password=SECRETPW", true, "postgres://lift@h/x?sslmode=disable&password=xxxxx"},
		{"postgresql://h/x?PASSWORD=SECRETPW&a=b", true, "postgresql://h/x?PASSWORD=xxxxx&a=b"},
		{"sqlite:lift.db", false, "sqlite:lift.db"},
		{"./host=x.db", false, "./host=x.db"},
		{"lift.db", false, "lift.db"},
	} {
		if got := isPostgres(tt.dsn); got != tt.postgres {
			t.Errorf("isPostgres(%q) = %v", tt.dsn, got)
		}
		if got := redact(tt.dsn); got != tt.redacted {
			t.Errorf("redact(%q) = %q, want %q", tt.dsn, got, tt.redacted)
		}
	}
	// End to end: a keyword/value string reaches PostgreSQL (here nothing
	// listens) and creates no file; the error hides the password.
	t.Chdir(t.TempDir())
	dsn := "host=127.0.0.1 port=1 user=lift dbname=x password=SECRETPW connect_timeout=2"
	code, _, stderr := run(t, "migrate", "--db", dsn)
	if code == 0 || strings.Contains(stderr, "SECRETPW") {
		t.Errorf("migrate --db %q: exit %d, stderr %q; want a failure that hides the password", dsn, code, stderr)
	}
	// So do the commands that need a database that exists.
	for _, args := range [][]string{{"train"}, {"models", "list"}} {
		code, _, stderr := run(t, append(args, "--db", dsn)...)
		if code == 0 || strings.Contains(stderr, "SECRETPW") || strings.Contains(stderr, "does not exist") {
			t.Errorf("%v --db %q: exit %d, stderr %q; want PostgreSQL's failure, password hidden", args, dsn, code, stderr)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("a keyword/value --db created %v", entries[0].Name())
	}
}

// TestActivateReportsAFailedExport: `lift models activate` activates the
// version in the registry whatever happens to the file, as `lift train`
// does, but a failed export is said on stderr, not skipped in silence.
func TestActivateReportsAFailedExport(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "lift.db")
	if code, _, stderr := run(t, "demo", "--db", db, "--clips", "300"); code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	if code, out, stderr := run(t, "train", "--db", db, "--export", ""); code != 0 || !strings.Contains(out, `"model_version":1`) {
		t.Fatalf("train: exit %d: %s %s", code, out, stderr)
	}
	blocker := writeFile(t, "afile", "not a directory")
	code, out, stderr := run(t, "models", "activate", "1", "--db", db, "--export", filepath.Join(blocker, "v.json"))
	if code != 0 || !strings.Contains(out, `"active":true`) {
		t.Errorf("activate: exit %d: %s %s", code, out, stderr)
	}
	if !strings.Contains(stderr, "exporting the active model") || !strings.Contains(stderr, "not a directory") {
		t.Errorf("activate with an export that cannot be written: stderr %q, want the failure named", stderr)
	}
}

// TestServeAddressInUse: an address another process holds fails the
// start with exit 1 before the database file is made.
func TestServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	code, _, stderr := runRefused(t, nil, "serve", "--addr", ln.Addr().String(), "--db", "sqlite:"+filepath.Join(dir, "lift.db"), "--export", "")
	if code != 1 || !strings.Contains(stderr, "address already in use") {
		t.Errorf("serve on an address in use: exit %d, %q; want 1 saying so", code, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed start left files behind: %v", entries)
	}
}
