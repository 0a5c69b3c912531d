#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#
#   scripts/pg-test-cluster.sh start DIR   initdb + pg_ctl start in DIR, create
#                                          database lift_test, print its DSN
#   scripts/pg-test-cluster.sh stop DIR    stop the cluster (DIR is left for the
#                                          caller to remove)
#
# The cluster runs with fsync off unless PG_DURABLE=1 (benchmarks set it).
#
# The cluster listens on 127.0.0.1 only, on a private port (PGPORT, default
# 55432, or the next free one) and a socket directory inside DIR, with trust
# authentication: it holds nothing but test data and dies with the test run.
# PostgreSQL refuses to run as root, so as root the server runs as the
# postgres user that Debian's package creates.
# Use it as:  export LIFT_TEST_POSTGRES=$(scripts/pg-test-cluster.sh start "$dir")
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

# The newest installed server's binaries: Debian keeps them off PATH.
bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
	[ -x "$d/initdb" ] && bindir=$d
done
if [ -z "$bindir" ] && command -v initdb >/dev/null 2>&1; then
	bindir=$(dirname "$(command -v initdb)")
fi
if [ -z "$bindir" ]; then
	echo "pg-test-cluster: no PostgreSQL server binaries (initdb) found" >&2
	exit 1
fi

# as runs a command as the cluster's owner.
as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case $cmd in
start)
	mkdir -p "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "pg-test-cluster: running as root but there is no postgres user to run the server as" >&2
			exit 1
		fi
		chown postgres: "$dir"
	fi
	port=${PGPORT:-55432}
	for _ in $(seq 1 50); do
		port_free "$port" && break
		port=$((port + 1))
	done
	port_free "$port" || { echo "pg-test-cluster: no free port near ${PGPORT:-55432}" >&2; exit 1; }
	as "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# fsync off: a crash loses only test data, and the tests run faster.
	# PG_DURABLE=1 keeps PostgreSQL's durable defaults (for benchmarks).
	durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	[ "${PG_DURABLE:-}" = 1 ] && durability=""
	as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir $durability -c max_connections=200" \
		start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
	echo "$port" >"$dir/port"
	as "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE lift_test" >/dev/null
	echo "postgres://postgres@127.0.0.1:$port/lift_test?sslmode=disable"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
	fi
	;;
*)
	usage
	;;
esac
