package bandit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultConfig is the configuration behind the "default" policy; see
// docs/BANDIT.md for how its constants were chosen (once, for every data
// set alike).
func DefaultConfig() LinearConfig {
	return LinearConfig{
		Explorer:  LinUCB,
		Alpha:     0.3,
		Ridge:     0.1,
		Floor:     0.02,
		Quadratic: false,
		Estimator: DM,
	}
}

// policyKind is what ParsePolicy knows of one policy name: its explorer,
// the name of the parameter written after the colon ("" for none), the
// options it takes after commas, and the values its parameter and
// options have when the spec does not give them. A spec that gives a
// policy anything else is refused rather than ignored.
type policyKind struct {
	explorer Explorer
	param    string
	options  []string
	defaults map[string]string
}

// oracleOptions configure the regression oracle every policy but
// thompson shares.
var oracleOptions = []string{"estimator", "ridge", "quadratic", "floor", "clip"}

// policyKinds are the policies by CLI name, thompson included (its
// explorer is unused).
var policyKinds = map[string]policyKind{
	"default":        {LinUCB, "", oracleOptions, nil},
	"greedy":         {Greedy, "", oracleOptions, nil},
	"epsilon-greedy": {EpsilonGreedy, "epsilon", oracleOptions, map[string]string{"epsilon": "0.05"}},
	"softmax":        {Softmax, "lambda", oracleOptions, map[string]string{"lambda": "10"}},
	"lin-ts":         {LinTS, "v", append([]string{"draws", "seed"}, oracleOptions...), map[string]string{"v": "0.2", "draws": "256"}},
	"linucb":         {LinUCB, "alpha", oracleOptions, map[string]string{"alpha": "0.3"}},
	"squarecb":       {SquareCB, "gamma", append([]string{"exponent"}, oracleOptions...), map[string]string{"gamma": "10", "exponent": "0.5"}},
	"thompson":       {0, "", []string{"draws", "seed"}, map[string]string{"draws": "256"}},
}

// maxDraws bounds the Monte Carlo draws behind a PMF.
const maxDraws = 1 << 20

// policySetters parse one option's (or parameter's) value into the
// configuration. Thompson keeps its draws and seed there too.
var policySetters = map[string]func(c *LinearConfig, v string) error{
	"epsilon": func(c *LinearConfig, v string) (err error) { c.Epsilon, err = numberIn(v, 0, 1); return err },
	"lambda": func(c *LinearConfig, v string) (err error) {
		c.SoftmaxLambda, err = numberIn(v, 0, math.Inf(1))
		return err
	},
	"v":     func(c *LinearConfig, v string) (err error) { c.TSScale, err = numberIn(v, 0, math.Inf(1)); return err },
	"alpha": func(c *LinearConfig, v string) (err error) { c.Alpha, err = numberIn(v, 0, math.Inf(1)); return err },
	"gamma": func(c *LinearConfig, v string) (err error) {
		c.GammaScale, err = numberIn(v, 0, math.Inf(1))
		return err
	},
	"exponent": func(c *LinearConfig, v string) (err error) { c.GammaExponent, err = numberIn(v, 0, 1); return err },
	"floor":    func(c *LinearConfig, v string) (err error) { c.Floor, err = numberIn(v, 0, 1); return err },
	"clip":     func(c *LinearConfig, v string) (err error) { c.MinProbability, err = numberIn(v, 0, 1); return err },
	"ridge": func(c *LinearConfig, v string) (err error) {
		if c.Ridge, err = numberIn(v, 0, math.Inf(1)); err == nil && c.Ridge == 0 {
			err = fmt.Errorf("want a positive number")
		}
		return err
	},
	"quadratic": func(c *LinearConfig, v string) (err error) {
		if c.Quadratic, err = strconv.ParseBool(v); err != nil {
			err = fmt.Errorf("want true or false")
		}
		return err
	},
	"estimator": func(c *LinearConfig, v string) error {
		for i, n := range estimatorNames {
			if v == n {
				c.Estimator = Estimator(i)
				return nil
			}
		}
		return fmt.Errorf("want dm, mtr, ips or dr")
	},
	"draws": func(c *LinearConfig, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxDraws {
			return fmt.Errorf("want a whole number in [1, %d]", maxDraws)
		}
		c.Draws = int(n)
		return nil
	},
	"seed": func(c *LinearConfig, v string) (err error) {
		if c.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			err = fmt.Errorf("want a whole number in [0, %d]", uint64(math.MaxUint64))
		}
		return err
	},
}

// numberIn parses a finite number in [lo, hi].
func numberIn(v string, lo, hi float64) (float64, error) {
	x, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < lo || x > hi {
		if math.IsInf(hi, 1) {
			return 0, fmt.Errorf("want a finite number >= %g", lo)
		}
		return 0, fmt.Errorf("want a number in [%g, %g]", lo, hi)
	}
	return x, nil
}

// ParsePolicy builds a policy from its CLI name:
//
//	default
//	epsilon-greedy[:EPS]    (EPS 0.05, in [0, 1])
//	softmax[:LAMBDA]        (LAMBDA 10, >= 0)
//	thompson                (Beta-Bernoulli per action, context ignored)
//	lin-ts[:V]              (posterior scale V 0.2, >= 0)
//	linucb[:ALPHA]          (ALPHA 0.3, >= 0)
//	squarecb[:GAMMA]        (γ = GAMMA·t^0.5, GAMMA 10, >= 0)
//	greedy
//
// Every oracle policy (all but thompson) accepts options after a comma:
// estimator=dm|mtr|ips|dr, ridge=λ (> 0), quadratic=true|false,
// floor=F and clip=MINPROB (in [0, 1]); squarecb also exponent=X (in
// [0, 1]), lin-ts also draws=N and seed=N. thompson accepts draws and
// seed only. For example "squarecb:20,estimator=mtr,clip=0.01". The
// parameter after the colon may also be given as an option by its name
// (epsilon, lambda, v, alpha, gamma), as the HTTP API's params name it.
// A parameter or option the policy does not take, a value out of its
// range and an option given twice are errors naming the policy and the
// option. The oracle policies share DefaultConfig's regression oracle
// unless an option says otherwise.
func ParsePolicy(spec string) (Policy, error) {
	p, _, err := parsePolicy(spec, false)
	return p, err
}

// ParseStoredPolicy is ParsePolicy for a spec stored by an earlier
// version, which ignored the options a policy does not take: it leaves
// them out again, and returns their names, instead of refusing a policy
// that is already running.
func ParseStoredPolicy(spec string) (p Policy, ignored []string, err error) {
	return parsePolicy(spec, true)
}

func parsePolicy(spec string, lenient bool) (_ Policy, ignored []string, _ error) {
	parts := strings.Split(spec, ",")
	name, param, hasParam := strings.Cut(parts[0], ":")
	kind, known := policyKinds[name]
	if !known {
		return nil, nil, fmt.Errorf("unknown policy %q (want default, epsilon-greedy, softmax, thompson, lin-ts, linucb, squarecb or greedy)", name)
	}
	var keys, values []string
	if hasParam {
		if kind.param == "" {
			return nil, nil, fmt.Errorf("policy %s takes no parameter after a colon, got %q", name, parts[0])
		}
		keys, values = append(keys, kind.param), append(values, param)
	}
	for _, o := range parts[1:] {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("policy %s: option %q is not key=value", name, o)
		}
		keys, values = append(keys, k), append(values, v)
	}
	cfg := DefaultConfig()
	cfg.Explorer = kind.explorer
	if name != "default" {
		// Every oracle policy starts from the default's regression
		// oracle, but only the default keeps its uniform floor.
		cfg.Floor = 0
	}
	for k, v := range kind.defaults {
		if err := policySetters[k](&cfg, v); err != nil {
			panic(fmt.Sprintf("policy %s: default %s=%s: %v", name, k, v, err))
		}
	}
	seen := map[string]bool{}
	for i, k := range keys {
		if !kind.takes(k) {
			if lenient {
				ignored = append(ignored, k)
				continue
			}
			return nil, nil, unknownOption(name, kind, k)
		}
		if seen[k] {
			return nil, nil, fmt.Errorf("policy %s: %s is given twice", name, k)
		}
		seen[k] = true
		if err := policySetters[k](&cfg, values[i]); err != nil {
			return nil, nil, fmt.Errorf("policy %s: %s=%q: %v", name, k, values[i], err)
		}
	}
	if name == "thompson" {
		p := NewThompson(cfg.Seed)
		p.Draws = cfg.Draws
		return p, ignored, nil
	}
	p, err := NewLinear(spec, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("policy %q: %w", spec, err)
	}
	return p, ignored, nil
}

// PolicyParam names the parameter a policy takes after a colon
// ("epsilon" for epsilon-greedy), or "" for a policy without one or an
// unknown policy.
func PolicyParam(policy string) string { return policyKinds[policy].param }

// takes reports whether the policy takes option k (its parameter counts).
func (kind policyKind) takes(k string) bool {
	if k == kind.param && k != "" {
		return true
	}
	for _, o := range kind.options {
		if o == k {
			return true
		}
	}
	return false
}

// unknownOption says what the policy takes instead of k, and whose
// parameter k is when it belongs to another policy (epsilon given to
// thompson, say).
func unknownOption(name string, kind policyKind, k string) error {
	takes := kind.options
	if kind.param != "" {
		takes = append([]string{kind.param}, takes...)
	}
	msg := fmt.Sprintf("policy %s: unknown option %q (it takes %s)", name, k, strings.Join(takes, ", "))
	for other, ok := range policyKinds {
		if ok.param == k && k != "" {
			msg += fmt.Sprintf("; %s is the parameter of policy %s", k, other)
		}
	}
	return fmt.Errorf("%s", msg)
}
