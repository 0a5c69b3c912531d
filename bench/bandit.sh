#!/bin/sh
# Lift's bandit engine against Vowpal Wabbit's --cbify figures in
# shared/BENCHMARKS.md (VW is not installed here; its numbers are the
# anchor). Prints a markdown table of mean progressive loss over the three
# row orders per policy, then the decide+learn throughput benchmark.
#
# usage: bench/bandit.sh [POLICY ...]     (default: the policies below)
# env:   LIFT_BANDIT_DATA (default /work/shared/data/bandit), PYTHON
set -eu
cd "$(dirname "$0")/.."
data=${LIFT_BANDIT_DATA:-/work/shared/data/bandit}
python=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/lift" ./cmd/lift
if [ $# -eq 0 ]; then
	# Quadratic features on optdigits (64 features) would mean 2,145
	# dimensions per action: run only where they fit.
	set -- default linucb squarecb lin-ts epsilon-greedy epsilon-greedy:0.2 softmax thompson \
		"squarecb,estimator=mtr" "linucb,quadratic=true@letter+pendigits"
fi
"$python" bench/bandit.py "$tmp/lift" "$data" "$tmp" "$@"
echo
echo "decide+learn, K=10 actions, 16 features, one goroutine:"
go test ./bandit -run '^$' -bench 'DecideLearn' -benchtime 50000x -cpu 1 | grep '^Benchmark'
