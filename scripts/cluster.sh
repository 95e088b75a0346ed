#!/usr/bin/env bash
# cluster.sh: shared shell functions to create, start and stop a PostgreSQL
# cluster owned by the postgres user (PostgreSQL refuses to run as root).
# Sourced by test.sh and service.sh.  The cluster listens on a unix socket in
# its own directory only (no TCP).

PGBIN=$(pg_config --bindir)

# cluster_private_tree DIR ROOT: make DIR/pgroot a private view of the
# PostgreSQL installation in which machi's files are the ones built in ROOT
# (everything else is a symlink to the system's files), and point PGBIN at
# it.  PostgreSQL finds its share and lib directories relative to the
# postgres binary, so a cluster started from here loads this build's
# extension whatever another build installs meanwhile.
cluster_private_tree() {
	local dir=$1 root=$2
	local bindir libdir sharedir r f
	bindir=$(pg_config --bindir)
	libdir=$(pg_config --pkglibdir)
	sharedir=$(pg_config --sharedir)
	r="$dir/pgroot"
	mkdir -p "$r$bindir" "$r$libdir" "$r$sharedir/extension"
	for f in postgres initdb pg_ctl; do cp "$bindir/$f" "$r$bindir/"; done
	for f in "$libdir"/*; do
		case "$(basename "$f")" in machi.so) ;; *) ln -s "$f" "$r$libdir/" ;; esac
	done
	cp "$root/machi.so" "$r$libdir/"
	for f in "$sharedir"/*; do
		[ "$(basename "$f")" = extension ] || ln -s "$f" "$r$sharedir/"
	done
	for f in "$sharedir"/extension/*; do
		case "$(basename "$f")" in machi.control | machi--*) ;; *) ln -s "$f" "$r$sharedir/extension/" ;; esac
	done
	cp "$root/control/machi.control" "$root"/machi--*.sql "$r$sharedir/extension/"
	chmod -R a+rX "$dir/pgroot"
	PGBIN="$r$bindir"
}

# as_pg CMD...: run a command as the postgres user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		# from /: the caller's directory may be closed to postgres
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# cluster_init DIR PORT [extra postgresql.conf lines...]: create DIR/data
# (UTF-8, trust on the unix socket only), with machi and pg_cron preloaded
# (pg_cron runs the jobs of machi.job in the database named by
# cron.database_name, which the caller sets).
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
		echo "shared_preload_libraries = 'machi,pg_cron'"
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
