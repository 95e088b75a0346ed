#!/usr/bin/env bash
# docker/lint.sh: check docker/ without a Docker daemon (`make docker-lint`):
# the structural checks of docker/lint.py, yamllint on compose.yaml,
# ShellCheck on the scripts, and `docker compose config` when a compose
# implementation is installed.  Ends with "docker lint: N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

out=$(/usr/bin/python3 "$HERE/lint.py")
echo "$out" | grep -v '^docker lint:'
passed=$(sed -nE 's/^docker lint: ([0-9]+) passed.*/\1/p' <<<"$out")
failed=$(sed -nE 's/^docker lint: [0-9]+ passed, ([0-9]+) failed.*/\1/p' <<<"$out")
passed=${passed:-0}
failed=${failed:-1}

# run NAME CMD...: one more check
run() {
	local name=$1 res
	shift
	if res=$("$@" 2>&1); then
		passed=$((passed + 1))
		echo "ok - $name"
	else
		failed=$((failed + 1))
		echo "not ok - $name"
		printf '%s\n' "$res" | sed 's/^/    /' # indent the details
	fi
}

if command -v yamllint >/dev/null; then
	run "yamllint compose.yaml" yamllint -d '{extends: default, rules: {line-length: {max: 132}, document-start: disable, truthy: {check-keys: false}}}' "$HERE/compose.yaml"
else
	echo "# yamllint not installed: skipped"
fi
if command -v shellcheck >/dev/null; then
	run "shellcheck docker/*.sh" shellcheck -s sh "$HERE"/db-entrypoint.sh "$HERE"/db-post-bootstrap.sh "$HERE"/gateway-entrypoint.sh "$HERE"/backup.sh "$HERE"/make-secrets.sh
	run "shellcheck docker/lint.sh" shellcheck "$HERE/lint.sh"
else
	echo "# shellcheck not installed: skipped"
fi
for f in db-entrypoint db-post-bootstrap gateway-entrypoint backup make-secrets; do
	run "sh -n $f.sh" sh -n "$HERE/$f.sh"
done

# validate_patroni FILE: patroni --validate-config, ignoring only that the
# etcd hosts cannot be reached from here
validate_patroni() {
	local out
	out=$(patroni --validate-config "$1" 2>&1)
	out=$(grep -v "^etcd3.hosts .* didn't pass validation: .* is not reachable" <<<"$out")
	[ -z "$out" ] || { echo "$out"; return 1; }
}

# the Patroni configuration db-entrypoint.sh writes, validated by Patroni
if command -v patroni >/dev/null; then
	tmp=$(mktemp -d)
	mkdir "$tmp/secrets"
	for s in pg_superuser_password pg_replication_password machi_master_key; do
		openssl rand -hex 16 >"$tmp/secrets/$s"
	done
	run "db-entrypoint.sh writes a Patroni configuration" env DRY_RUN=1 SECRETS_DIR="$tmp/secrets" \
		PATRONI_CONF="$tmp/patroni.yml" NODE_NAME=db1 ETCD_HOSTS=127.0.0.1:2379 sh "$HERE/db-entrypoint.sh"
	run "patroni --validate-config accepts it (etcd being unreachable here)" validate_patroni "$tmp/patroni.yml"
	rm -rf "$tmp"
else
	echo "# patroni not installed: its configuration is not validated"
fi

# pgbackrest.conf: pgBackRest must know every option in it
if command -v pgbackrest >/dev/null; then
	pgbr_conf() {
		local d out
		d=$(mktemp -d)
		out=$(pgbackrest --config="$HERE/pgbackrest.conf" --stanza=machi --repo1-path="$d" --log-path="$d" info 2>&1)
		rm -rf "$d"
		! grep -E 'WARN|ERROR' <<<"$out"
	}
	run "pgbackrest.conf has only valid options" pgbr_conf
fi

# the real thing where it exists (needs the secret files to be present)
if docker compose version >/dev/null 2>&1; then
	tmp=$(mktemp -d)
	cp -r "$HERE/." "$tmp/"
	MACHI_SMTP_PASSWORD=x sh "$tmp/make-secrets.sh" "$tmp/secrets" >/dev/null 2>&1
	run "docker compose config" docker compose -f "$tmp/compose.yaml" config -q
	rm -rf "$tmp"
elif command -v docker-compose >/dev/null; then
	echo "# docker-compose v1 found; the compose spec file needs docker compose v2: skipped"
else
	echo "# docker compose not installed: static checks only"
fi

echo "docker lint: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
