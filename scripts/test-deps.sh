#!/usr/bin/env bash
# Installs the real programs Lift's tests run against, from Debian's
# packages: XGBoost (python3-xgboost) for the model interop tests and
# PostgreSQL (postgresql) for the PostgreSQL store's tests, which run on a
# throwaway cluster that scripts/test.sh starts; Chromium (chromium) for the
# dashboard's browser test, driven headless over CDP (never a downloaded browser).
# Without root it only reports what is missing; the tests that need it
# skip locally, but under CI=true they fail instead of skipping.
set -euo pipefail

need=()
/usr/bin/python3 -c 'import xgboost' >/dev/null 2>&1 || need+=(python3-xgboost)
# Debian keeps the server binaries off PATH, under /usr/lib/postgresql/VERSION/bin.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "test-deps: missing ${need[*]} (not root, not installing; dependent tests will skip unless CI=true)" >&2
	exit 0
fi
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
