#!/usr/bin/env bash
# Runs every test (make test calls it after test-deps and vet): go test on
# all packages, the -race run, then each fuzz target for FUZZTIME.
#
# The PostgreSQL tests need a server: unless LIFT_TEST_POSTGRES already
# names one, a throwaway cluster is started for the run when PostgreSQL's
# binaries are installed, and stopped on the way out, failure or not.
# Without one the PostgreSQL tests skip locally and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-300000x}

if [ -z "${LIFT_TEST_POSTGRES:-}" ] &&
	{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }; then
	pgdir=$(mktemp -d /tmp/lift-pg.XXXXXX)
	trap './scripts/pg-test-cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
	if dsn=$(./scripts/pg-test-cluster.sh start "$pgdir"); then
		export LIFT_TEST_POSTGRES=$dsn
		echo "test: PostgreSQL test cluster at $dsn" >&2
	else
		echo "test: could not start a PostgreSQL test cluster; PostgreSQL tests will skip (fail under CI=true)" >&2
	fi
fi

"$GO" test -count=1 -timeout 30m ./...
CGO_ENABLED=1 "$GO" test -count=1 -race -run 'Concurrent' ./trainer ./experiment
# The trainer's worker team and the shared predictor, under the race detector.
CGO_ENABLED=1 "$GO" test -count=1 -race -run 'Train|Predict' ./gbdt
# The stores' writer, syncer and group commits, and the HTTP layer over
# them: goroutines hand work to each other there on every write.
CGO_ENABLED=1 "$GO" test -count=1 -race ./sqlite ./postgres ./httpapi ./internal/...
./scripts/fuzz.sh "$FUZZTIME"
