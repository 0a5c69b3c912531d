package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagParseErrors: a flag the command does not know, or a value it
// cannot parse, is a usage error of two lines (the mistake, then where
// the help is), not the whole usage; --help still prints all of it.
func TestFlagParseErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--bogus"}, "lift serve: flag provided but not defined: -bogus\nrun 'lift serve --help' for usage\n"},
		{[]string{"train", "--rounds", "x"}, "lift train: invalid value \"x\" for flag -rounds: parse error\nrun 'lift train --help' for usage\n"},
		{[]string{"gbdt", "train", "--seed", "x"}, "lift gbdt train: invalid value \"x\" for flag -seed: want an integer\nrun 'lift gbdt train --help' for usage\n"},
		{[]string{"bandit", "simulate", "--shuffle-seed", "18446744073709551616"},
			"lift bandit simulate: invalid value \"18446744073709551616\" for flag -shuffle-seed: out of range: want a 64-bit integer\n" +
				"run 'lift bandit simulate --help' for usage\n"},
		{[]string{"import", "clips", "x.csv", "--skip-invalid=maybe"},
			"lift import: invalid boolean value \"maybe\" for -skip-invalid: parse error\nrun 'lift import --help' for usage\n"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Chdir(t.TempDir()) // where a misread --db would be created
			out, stderr, code := MustExec(t, tt.args...)
			if code != 2 || out != "" || stderr != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and stderr %q", code, out, stderr, tt.want)
			}
		})
	}
	for _, help := range []string{"--help", "-h"} {
		out, stderr, code := MustExec(t, "serve", help)
		if code != 0 || stderr != "" || !strings.HasPrefix(out, "Usage: lift serve ") || !strings.Contains(out, "-train-every duration") {
			t.Errorf("serve %s: exit %d, stdout %q, stderr %q; want exit 0 and the full usage on stdout", help, code, out, stderr)
		}
	}
}

// TestHelpGoesToStdout: help asked for (--help, -h, help) is printed on
// stdout with exit 0, for every command and subcommand; usage printed
// because of a mistake (no command, no subcommand) is on stderr with
// exit 2.
func TestHelpGoesToStdout(t *testing.T) {
	t.Chdir(t.TempDir()) // where a misread --db would be created
	var asked [][]string
	for name := range commands {
		asked = append(asked, []string{name, "--help"}, []string{name, "-h"})
	}
	for _, group := range []string{"gbdt", "bandit"} {
		asked = append(asked, []string{group, "help"})
	}
	for _, sub := range []string{"train", "predict", "eval", "importance", "explain", "bench"} {
		asked = append(asked, []string{"gbdt", sub, "--help"})
	}
	for _, sub := range []string{"simulate", "evaluate"} {
		asked = append(asked, []string{"bandit", sub, "--help"})
	}
	asked = append(asked, []string{"--help"}, []string{"help"}, []string{"models", "list", "--help"}, []string{"import", "clips", "x.csv", "-h"})
	for _, args := range asked {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, stderr, code := MustExec(t, args...)
			if code != 0 || stderr != "" || !strings.Contains(out, "Usage: lift") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 0 and the usage on stdout only", code, out, stderr)
			}
		})
	}
	for _, args := range [][]string{{}, {"gbdt"}, {"bandit"}} {
		t.Run("mistake "+strings.Join(args, " "), func(t *testing.T) {
			out, stderr, code := MustExec(t, args...)
			if code != 2 || out != "" || !strings.Contains(stderr, "Usage: lift") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and the usage on stderr only", code, out, stderr)
			}
		})
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("help left files behind: %v", entries)
	}
}

// TestSeedValue: a seed flag reads what flag.Uint64 reads, the same way,
// and a negative integer as its two's complement.
func TestSeedValue(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want uint64
		err  string
	}{
		{in: "0", want: 0},
		{in: "42", want: 42},
		{in: "0x10", want: 16},
		{in: "18446744073709551615", want: 18446744073709551615},
		{in: "-1", want: 18446744073709551615},
		{in: "-2", want: 18446744073709551614},
		{in: "-9223372036854775808", want: 1 << 63},
		{in: "-0", want: 0},
		{in: "18446744073709551616", err: "out of range"},
		{in: "-9223372036854775809", err: "out of range"},
		{in: "x", err: "want an integer"},
		{in: "+5", err: "want an integer"},
		{in: "", err: "want an integer"},
		{in: "1.5", err: "want an integer"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			var s seedValue
			err := s.Set(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Set(%q) = %v (value %d), want an error containing %q", tt.in, err, s, tt.err)
				}
			} else if err != nil || uint64(s) != tt.want {
				t.Fatalf("Set(%q) = %d, %v; want %d", tt.in, s, err, tt.want)
			}
			if strings.HasPrefix(tt.in, "-") {
				return
			}
			// Without a minus sign, exactly what flag.Uint64 does.
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			u := fs.Uint64("seed", 0, "")
			uerr := fs.Parse([]string{"-seed=" + tt.in})
			if (uerr == nil) != (err == nil) || (err == nil && *u != uint64(s)) {
				t.Errorf("Set(%q) = %d, %v; flag.Uint64 reads %d, %v", tt.in, s, err, *u, uerr)
			}
		})
	}
}

// TestNegativeSeeds: every seed flag takes -1, and it means
// 18446744073709551615 exactly.
func TestNegativeSeeds(t *testing.T) {
	vw, _ := MustBanditData(t)
	dir := t.TempDir()
	simulate := func(seed string) string {
		out, stderr, code := MustExec(t, "bandit", "simulate", "--data", vw, "--policy", "squarecb", "--seed", seed, "--shuffle-seed", seed)
		if code != 0 {
			t.Fatalf("simulate --seed %s: exit %d: %s", seed, code, stderr)
		}
		return out
	}
	neg, pos := simulate("-1"), simulate("18446744073709551615")
	for _, want := range []string{`"seed":18446744073709551615`, `"shuffle_seed":18446744073709551615`} {
		if !strings.Contains(neg, want) {
			t.Errorf("simulate --seed -1: %s lacks %s", neg, want)
		}
	}
	if MustJSONObject(t, neg)["loss"] != MustJSONObject(t, pos)["loss"] {
		t.Errorf("--seed -1 and --seed 18446744073709551615 play differently: %s vs %s", neg, pos)
	}

	train := func(seed string) []byte {
		model := filepath.Join(dir, "m"+seed+".json")
		_, stderr, code := MustExec(t, "gbdt", "train", "--data", higgsTest, "--out", model, "--rounds", "3",
			"--subsample", "0.5", "--colsample-bytree", "0.5", "--threads", "1", "--seed", seed)
		if code != 0 {
			t.Fatalf("gbdt train --seed %s: exit %d: %s", seed, code, stderr)
		}
		b, err := os.ReadFile(model)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(train("-1"), train("18446744073709551615")) {
		t.Errorf("gbdt train: --seed -1 and --seed 18446744073709551615 give different models")
	}

	db := "sqlite:" + filepath.Join(dir, "lift.db")
	if _, stderr, code := MustExec(t, "demo", "--db", db, "--clips", "5", "--seed", "-1"); code != 0 {
		t.Errorf("demo --seed -1: exit %d: %s", code, stderr)
	}
}

// TestWriteJSONKeepsText: a command's JSON prints &, < and > as they are
// (a DSN's query, a message's ">="), not as HTML-safe escapes.
func TestWriteJSONKeepsText(t *testing.T) {
	var b strings.Builder
	if err := writeJSON(&b, map[string]string{"db": "postgres://h/db?a=1&b=2", "reason": "must be >= 0 and < 1"}); err != nil {
		t.Fatal(err)
	}
	if want := `{"db":"postgres://h/db?a=1&b=2","reason":"must be >= 0 and < 1"}` + "\n"; b.String() != want {
		t.Errorf("writeJSON = %q, want %q", b.String(), want)
	}
}
