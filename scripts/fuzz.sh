#!/usr/bin/env bash
# Runs every Go fuzz target in the module briefly (default 300,000 inputs
# each): hostile model and data files must give errors, never panics. The
# budget is a count (Nx), not a duration: with a duration, Go 1.26's fuzz
# coordinator can fail a target with a spurious "context deadline exceeded"
# when the time runs out while a worker is mid-execution (fixed in Go 1.27).
set -euo pipefail
fuzztime=${1:-300000x}
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
done
