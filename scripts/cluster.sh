#!/usr/bin/env bash
# cluster.sh: shared shell functions to create, start and stop a PostgreSQL
# cluster owned by the postgres user (PostgreSQL refuses to run as root).
# Sourced by test.sh and service.sh.  The cluster listens on a unix socket in
# its own directory only (no TCP).

PGBIN=$(pg_config --bindir)

# as_pg CMD...: run a command as the postgres user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# cluster_init DIR PORT [extra postgresql.conf lines...]: create DIR/data
# (UTF-8, trust on the unix socket only), with machi preloaded.
cluster_init() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	chown postgres: "$dir"
	chmod 0750 "$dir"
	as_pg "$PGBIN/initdb" -D "$dir/data" -E UTF8 --locale=C.UTF-8 -A trust -U postgres >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "port = $port"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'machi'"
		echo "max_connections = 50"
		echo "log_line_prefix = '%m [%p] %q%u@%d '"
		for line in "$@"; do echo "$line"; done
	} | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
}

# cluster_start DIR: start and wait until it accepts connections.
cluster_start() {
	local dir=$1
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		return 1
	}
}

# cluster_stop DIR: fast shutdown if running.
cluster_stop() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
	fi
}

# master_key_create FILE: a new master key for machi.master_key_file: 32
# random bytes, mode 0600, owned by postgres, in a directory only postgres
# can enter.  Never overwrites an existing key.
master_key_create() {
	local file=$1 dir
	dir=$(dirname "$file")
	[ -e "$file" ] && return 0
	mkdir -p "$dir"
	chown postgres: "$dir"
	chmod 0700 "$dir"
	(umask 077 && head -c 32 /dev/urandom >"$file")
	chown postgres: "$file"
	chmod 0600 "$file"
}
