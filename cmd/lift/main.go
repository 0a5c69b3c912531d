// Command lift predicts short-video CTR with gradient-boosted trees and
// chooses creative variants with contextual bandits. Run `lift --help`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"lift"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	m.Stdin, m.Stdout, m.Stderr = os.Stdin, os.Stdout, os.Stderr
	m.Getenv = os.Getenv
	os.Exit(m.Exec(ctx, os.Args[1:]))
}

// Main is the program: end-to-end tests drive it in-process with their own
// arguments, streams and environment.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment (LIFT_ADDR, LIFT_DB, LIFT_API_TOKEN,
	// LIFT_BANDS).
	Getenv func(string) string
	// OnListen, if set, is told the address serve bound (tests use :0)
	// once it serves the API; OnStarting as soon as it answers /healthz,
	// before the database is opened.
	OnListen   func(addr string)
	OnStarting func(addr string)

	cmd     *command
	args    []string
	closers []func() error
}

// NewMain returns a Main with empty streams and environment.
func NewMain() *Main {
	return &Main{
		Stdin:  strings.NewReader(""),
		Stdout: io.Discard,
		Stderr: io.Discard,
		Getenv: func(string) string { return "" },
	}
}

// command is one subcommand. run parses its own flags from args; a
// usageError (from usagef or a flag parse failure) exits 2.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

// commands is the dispatcher table (see commandTable).
var commands = commandTable()

// usageError marks a command-line mistake (exit status 2). A flag parse
// failure names its command, so that Exec can say where its help is.
type usageError struct {
	msg string
	cmd string // "serve", "gbdt train": set for flag parse failures
}

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// ParseFlags picks the subcommand; its own flags are parsed by Run.
func (m *Main) ParseFlags(args []string) error {
	if len(args) == 0 {
		m.printUsage(m.Stderr)
		return usagef("a command is required")
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.printUsage(m.Stdout)
		return flag.ErrHelp
	}
	c, ok := commands[args[0]]
	if !ok {
		return usagef("unknown command %q (run 'lift --help')", args[0])
	}
	m.cmd, m.args = c, args[1:]
	return nil
}

// Run runs the chosen subcommand until it finishes or ctx is cancelled.
func (m *Main) Run(ctx context.Context) error {
	if m.cmd == nil {
		return usagef("no command")
	}
	return m.cmd.run(ctx, m, m.args)
}

// Close releases what Run opened (databases, listeners), last opened first.
func (m *Main) Close() error {
	var errs []error
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	m.closers = nil
	return errors.Join(errs...)
}

// onClose registers f to run at Close.
func (m *Main) onClose(f func() error) { m.closers = append(m.closers, f) }

// Exec is ParseFlags, Run and Close with the exit-status convention:
// 0 success, 1 failure (one line on stderr), 2 usage error.
func (m *Main) Exec(ctx context.Context, args []string) int {
	err := m.ParseFlags(args)
	if err == nil {
		err = m.Run(ctx)
		if cerr := m.Close(); err == nil {
			err = cerr
		}
	}
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue) && ue.cmd != "":
		fmt.Fprintf(m.Stderr, "lift %s: %s\nrun 'lift %s --help' for usage\n", ue.cmd, ue.msg, ue.cmd)
		return 2
	case errors.As(err, &ue):
		fmt.Fprintf(m.Stderr, "lift: %s\n", ue.msg)
		return 2
	default:
		msg := err.Error()
		// A user's mistake (an unknown version, a clip that does not
		// load) reads as its message; the store and job names it passed
		// through are for the internal errors only.
		if _, direct := err.(*lift.Error); direct && lift.KindOf(err) != lift.Internal {
			msg = lift.Message(err)
		}
		fmt.Fprintf(m.Stderr, "lift: %s\n", oneLine(msg))
		return 1
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (m *Main) printUsage(w io.Writer) {
	fmt.Fprintln(w, "lift: CTR prediction and variant selection for short video clips.")
	fmt.Fprintln(w, "\nUsage: lift COMMAND [flags]   (lift COMMAND --help for its flags)\n\nCommands:")
	names := make([]string, 0, len(commands))
	width := 0
	for n := range commands {
		names = append(names, n)
		width = max(width, len(n))
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s %s\n", width, n, commands[n].summary)
	}
}

// newFlagSet returns a FlagSet whose parse failures become usage errors
// via parseFlags. Its usage is printed only for --help, which asked for
// it: to m.Stdout, as `lift --help` prints.
func (m *Main) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("lift "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: lift %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// isSet reports whether the command line gave flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// flagCheck is one condition a parsed flag value must meet.
type flagCheck struct {
	ok   bool
	flag string
	val  any
	want string
}

// checkFlags returns a usage error naming the first flag whose check
// fails: "--rounds must be 0 or more, got -5".
func checkFlags(checks ...flagCheck) error {
	for _, c := range checks {
		if !c.ok {
			return usagef("--%s must be %s, got %v", c.flag, c.want, c.val)
		}
	}
	return nil
}

// finiteAtLeast reports whether x is a finite number >= lo (NaN is not).
func finiteAtLeast(x, lo float64) bool { return x >= lo && !math.IsInf(x, 1) }

// parseFlags parses args into fs, turning a parse failure into a usage
// error of one line (Exec adds where the help is); --help prints the
// usage and returns flag.ErrHelp (exit 0). Positional arguments are
// allowed before and after flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := parseQuietly(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.Usage()
		return nil, err
	case err != nil:
		return nil, &usageError{msg: err.Error(), cmd: strings.TrimPrefix(fs.Name(), "lift ")}
	}
	return pos, nil
}

// parseQuietly parses with the flag package's own reporting turned off:
// it would print the error and then the whole usage for any mistake.
func parseQuietly(fs *flag.FlagSet, args []string) ([]string, error) {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	defer func() { fs.Usage = usage; fs.SetOutput(out) }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// seedValue is a seed flag's value: a uint64, as flag.Uint64 reads it,
// that also takes a negative integer as its 64-bit two's complement (-1
// is 18446744073709551615), as a seed copied from a tool with signed
// seeds would be written.
type seedValue uint64

func (s *seedValue) String() string { return strconv.FormatUint(uint64(*s), 10) }

func (s *seedValue) Set(text string) error {
	var u uint64
	var err error
	if strings.HasPrefix(text, "-") {
		var i int64
		i, err = strconv.ParseInt(text, 0, 64)
		u = uint64(i)
	} else {
		u, err = strconv.ParseUint(text, 0, 64)
	}
	if errors.Is(err, strconv.ErrRange) {
		return errors.New("out of range: want a 64-bit integer")
	}
	if err != nil {
		return errors.New("want an integer")
	}
	*s = seedValue(u)
	return nil
}

// seedFlag defines a seed flag (see seedValue) with a default value.
func seedFlag(fs *flag.FlagSet, name string, value uint64, usage string) *uint64 {
	s := seedValue(value)
	fs.Var(&s, name, usage+"; `N` is read as Go reads integers (0x for hex, a leading 0 for octal), and a negative N counts as its 64-bit two's complement (-1 is 18446744073709551615)")
	return (*uint64)(&s)
}

// writeJSON writes v as one JSON object line to w.
func writeJSON(w io.Writer, v any) error {
	// Not for a web page: a DSN's & and a message's >= print as they are,
	// not as \u0026 and \u003e=.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// dispatch runs the subcommand of command group named by args[0], or
// lists the subcommands with their summaries for --help (and, as a usage
// error, when none is given).
func dispatch(ctx context.Context, m *Main, group string, subs map[string]func(context.Context, *Main, []string) error, summaries map[string]string, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" || args[0] == "-help" {
		// Help asked for goes to stdout; printed for a mistake, to stderr.
		w := m.Stdout
		if len(args) == 0 {
			w = m.Stderr
		}
		fmt.Fprintf(w, "Usage: lift %s SUBCOMMAND [flags]   (lift %s SUBCOMMAND --help for its flags)\n\nSubcommands:\n", group, group)
		names := make([]string, 0, len(subs))
		for n := range subs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-10s %s\n", n, summaries[n])
		}
		if len(args) == 0 {
			return usagef("lift %s needs a subcommand (run 'lift %s --help')", group, group)
		}
		return flag.ErrHelp
	}
	run, ok := subs[args[0]]
	if !ok {
		return usagef("unknown %s subcommand %q (run 'lift %s --help')", group, args[0], group)
	}
	return run(ctx, m, args[1:])
}

// startCPUProfile writes a pprof CPU profile to path until the returned
// stop is called; with an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
