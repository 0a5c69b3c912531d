package bandit

import (
	"fmt"
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

// ParsePolicy builds a policy from its CLI name:
//
//	default
//	epsilon-greedy[:EPS]    (EPS 0.05)
//	softmax[:LAMBDA]        (LAMBDA 10)
//	thompson                (Beta-Bernoulli per action, context ignored)
//	lin-ts[:V]              (posterior scale V 0.2)
//	linucb[:ALPHA]          (ALPHA 0.3)
//	squarecb[:GAMMA]        (γ = GAMMA·t^0.5, GAMMA 10)
//	greedy
//
// Every oracle policy (all but thompson) accepts options after a comma:
// estimator=dm|mtr|ips|dr, ridge=λ, quadratic=true|false, clip=MINPROB,
// exponent=X (squarecb), draws=N (lin-ts), seed=N. For example
// "squarecb:20,estimator=mtr,clip=0.01". thompson accepts seed and draws.
// The oracle policies share DefaultConfig's regression oracle unless an
// option says otherwise.
func ParsePolicy(spec string) (Policy, error) {
	parts := strings.Split(spec, ",")
	name, param, hasParam := strings.Cut(parts[0], ":")
	var num float64
	if hasParam {
		v, err := strconv.ParseFloat(param, 64)
		if err != nil {
			return nil, fmt.Errorf("policy %q: parameter %q is not a number", name, param)
		}
		num = v
	}
	opts := map[string]string{}
	for _, o := range parts[1:] {
		k, v, ok := strings.Cut(o, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("policy %q: option %q is not key=value", name, o)
		}
		opts[k] = v
	}
	if name == "thompson" {
		if hasParam {
			return nil, fmt.Errorf("policy thompson takes no parameter")
		}
		p := NewThompson(0)
		for k, v := range opts {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("policy thompson: option %s=%q is not a whole number", k, v)
			}
			switch k {
			case "seed":
				p.Seed = n
			case "draws":
				if n < 1 || n > 1<<20 {
					return nil, fmt.Errorf("policy thompson: draws %d out of range 1..%d", n, 1<<20)
				}
				p.Draws = int(n)
			default:
				return nil, fmt.Errorf("policy thompson: unknown option %q", k)
			}
		}
		return p, nil
	}
	// Every oracle policy starts from the default's regression oracle,
	// but only the default keeps its uniform floor.
	cfg := DefaultConfig()
	if name != "default" {
		cfg.Floor = 0
	}
	param1 := func(def float64) float64 {
		if hasParam {
			return num
		}
		return def
	}
	switch name {
	case "default":
		if hasParam {
			return nil, fmt.Errorf("policy default takes no parameter")
		}
	case "greedy":
		cfg.Explorer = Greedy
	case "epsilon-greedy":
		cfg.Explorer, cfg.Epsilon = EpsilonGreedy, param1(0.05)
	case "softmax":
		cfg.Explorer, cfg.SoftmaxLambda = Softmax, param1(10)
	case "lin-ts":
		cfg.Explorer, cfg.TSScale, cfg.Draws = LinTS, param1(0.2), 256
	case "linucb":
		cfg.Explorer, cfg.Alpha = LinUCB, param1(0.3)
	case "squarecb":
		cfg.Explorer, cfg.GammaScale, cfg.GammaExponent = SquareCB, param1(10), 0.5
	default:
		return nil, fmt.Errorf("unknown policy %q (want default, epsilon-greedy, softmax, thompson, lin-ts, linucb, squarecb or greedy)", name)
	}
	for k, v := range opts {
		var err error
		switch k {
		case "estimator":
			found := false
			for i, n := range estimatorNames {
				if v == n {
					cfg.Estimator, found = Estimator(i), true
				}
			}
			if !found {
				err = fmt.Errorf("want dm, mtr, ips or dr")
			}
		case "ridge":
			cfg.Ridge, err = strconv.ParseFloat(v, 64)
		case "quadratic":
			cfg.Quadratic, err = strconv.ParseBool(v)
		case "floor":
			cfg.Floor, err = strconv.ParseFloat(v, 64)
		case "clip":
			cfg.MinProbability, err = strconv.ParseFloat(v, 64)
		case "exponent":
			cfg.GammaExponent, err = strconv.ParseFloat(v, 64)
		case "draws":
			cfg.Draws, err = strconv.Atoi(v)
		case "seed":
			cfg.Seed, err = strconv.ParseUint(v, 10, 64)
		default:
			return nil, fmt.Errorf("policy %q: unknown option %q", name, k)
		}
		if err != nil {
			return nil, fmt.Errorf("policy %q: option %s=%q: %v", name, k, v, err)
		}
	}
	p, err := NewLinear(spec, cfg)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", spec, err)
	}
	return p, nil
}
