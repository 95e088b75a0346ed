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
