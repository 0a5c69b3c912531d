# Shared by bench/http.sh and bench/ab.sh (sourced, not run). The caller
# sets ROOT (the checkout) and ADDR (where lift serves) first.

# positive NAME VALUE: VALUE must be a positive whole number written
# plainly (no leading zero: loadgen would read 032 as octal).
positive() {
	case $2 in
	'' | *[!0-9]* | 0*) echo "$1: \"$2\" is not a positive whole number" >&2; exit 2 ;;
	esac
}

# seconds NAME VALUE: VALUE must be a number of seconds of at least 1
# (loadgen takes any Go duration in seconds).
seconds() {
	case $2 in
	'' | *[!0-9.]* | *.*.* | . | 0 | 0.* | .*) echo "$1: \"$2\" is not a number of seconds of at least 1" >&2; exit 2 ;;
	esac
}

# store DB: DB must name a store the scripts can start.
store() {
	case $1 in
	sqlite | postgres) ;;
	*) echo "DB: \"$1\" is not sqlite or postgres" >&2; exit 2 ;;
	esac
}
#
# bench_setup DB PGPORT: a scratch directory $TMP, removed at exit with
# whatever server is still running; DSN names a SQLite file in it, or,
# when DB is postgres, a throwaway cluster started on PGPORT (stopped at
# exit).
bench_setup() {
	TMP=$(mktemp -d)
	PID=
	LG=
	PGDIR=
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	DSN="sqlite:$TMP/lift.db"
	if [ "$1" = postgres ]; then
		PGDIR=$TMP/pg
		chmod 755 "$TMP" # the server runs as the postgres user when we are root
		echo "starting a PostgreSQL cluster" >&2
		DSN=$("$ROOT/bench/pg-cluster.sh" "$PGDIR" "$2")
	fi
	if curl -fsS "http://$ADDR/healthz" > /dev/null 2>&1; then
		echo "something already answers on $ADDR: stop it first (the run would measure it)" >&2
		exit 1
	fi
}

# bench_cleanup (at exit, however the script ends): the load generator
# ($LG) and the server ($PID) stopped, the cluster stopped, $TMP removed;
# each step whatever the one before it did.
bench_cleanup() {
	set +e
	for p in $LG $PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -z "$PGDIR" ] || "$ROOT/scripts/pg-test-cluster.sh" stop "$PGDIR"
	rm -rf "$TMP"
}

# bench_serve BIN: BIN serve --demo on ADDR and DSN, in the background
# (its pid in PID, its log appended to $TMP/serve.log), once it answers.
bench_serve() {
	env -u LIFT_API_TOKEN "$1" serve --demo --addr "$ADDR" --db "$DSN" --export "" 2>> "$TMP/serve.log" &
	PID=$!
	i=0
	until curl -fsS "http://$ADDR/readyz" > /dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 "$PID" 2>/dev/null; then
			echo "lift serve did not come up:" >&2
			cat "$TMP/serve.log" >&2
			exit 1
		fi
		sleep 0.1
	done
}
