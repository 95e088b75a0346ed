#!/usr/bin/env bash
# deps.sh: install every Debian package machi needs to build, run and test,
# then the console's npm packages (console/package-lock.json) and its build
# (console/dist).  Idempotent and fast when everything is present.
set -euo pipefail

PACKAGES=(
	build-essential pkg-config openssl ca-certificates
	postgresql-15 postgresql-server-dev-15 postgresql-15-postgis-3 postgresql-15-cron
	postgresql-contrib
	libsodium-dev libzxcvbn-dev libh2o-evloop-dev libcurl4-openssl-dev libssl-dev libpq-dev
	python3 python3-pytest python3-requests python3-psycopg python3-aiosmtpd
	wrk faketime clang libclang-rt-14-dev
	chromium fonts-ipafont-gothic
	pgbackrest patroni etcd-server etcd-client python3-psycopg2 yamllint shellcheck
	sqlmap wapiti ffuf sslscan slowhttptest python3-h2
)
# Node.js for the console (any node >= 20 already installed is used)
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

# console: npm packages pinned in the lockfile, then console/dist
console() {
	local dir
	dir="$(cd "$(dirname "$0")/.." && pwd)/console"
	if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	fi
	node "$dir/build.mjs" >/dev/null
}

missing=()
while read -r pkg status; do
	[ "$status" = "installed" ] || missing+=("$pkg")
done < <(for p in "${PACKAGES[@]}"; do
	s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	echo "$p ${s:-absent}"
done)

if [ ${#missing[@]} -eq 0 ]; then
	console
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
console
