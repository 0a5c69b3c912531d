#!/bin/sh
# bench/pg-cluster.sh DIR PORT: start a durable (fsync on) throwaway
# PostgreSQL cluster in DIR for a benchmark (scripts/pg-test-cluster.sh)
# and print its DSN. Stop it with scripts/pg-test-cluster.sh stop DIR.
#
# A new cluster creates (and zero-fills) a 16 MB WAL segment every few
# seconds under load, where a server that has run a while renames an old
# one: ~5% of PostgreSQL's CPU in a profile, and stalls in the tail. So
# this makes 1 GB of segments (PostgreSQL's default max_wal_size) and
# keeps them for reuse, as a long-running server has.
set -eu
DIR=$1
PORT=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DSN=$(PG_DURABLE=1 PGPORT=$PORT "$ROOT/scripts/pg-test-cluster.sh" start "$DIR")
echo "preparing 1 GB of WAL segments for reuse" >&2
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)
[ -n "$PSQL" ] || { echo "psql not found (install postgresql-client)" >&2; exit 1; }
"$PSQL" -X "$DSN" -qAt -v ON_ERROR_STOP=1 > /dev/null <<-'SQL'
	ALTER SYSTEM SET min_wal_size = '1GB';
	SELECT pg_reload_conf();
	CREATE TABLE bench_wal_fill (i int);
	DO $$ BEGIN FOR i IN 1..64 LOOP INSERT INTO bench_wal_fill VALUES (i); PERFORM pg_switch_wal(); END LOOP; END $$;
	DROP TABLE bench_wal_fill;
	CHECKPOINT;
SQL
echo "$DSN"
