#!/bin/sh
# Installs kitekeeper as a systemd service.
#
#   sudo scripts/install.sh [BINARY]          BINARY defaults to dist/kitekeeper (deno task compile)
#   DESTDIR=/tmp/stage scripts/install.sh     stage the tree for a package; touches nothing else
#
# Layout (matches scripts/kitekeeper.service):
#   $DESTDIR/usr/local/bin/kitekeeper                  the binary, 0755
#   $DESTDIR/etc/systemd/system/kitekeeper.service     the unit, 0644
#   $DESTDIR/usr/lib/sysusers.d/kitekeeper.conf        the system user, for systemd-sysusers
#   $DESTDIR/etc/kitekeeper/                           0700, owned by kitekeeper
#   $DESTDIR/etc/kitekeeper/.env                       0600, a template written only if absent
#
# Safe to run again: an existing .env is never rewritten (it holds the secret and the token).
# With DESTDIR set it creates no user, changes no owner and does not talk to systemd.
set -eu
# Directories come out 0755 whatever the caller's umask; every file's mode is set explicitly.
umask 022

SCRIPT_DIR=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
REPO_DIR=$(dirname -- "$SCRIPT_DIR")
BINARY=${1:-$REPO_DIR/dist/kitekeeper}
DESTDIR=${DESTDIR:-}
SERVICE_USER=kitekeeper

BIN_DIR=$DESTDIR/usr/local/bin
UNIT_DIR=$DESTDIR/etc/systemd/system
SYSUSERS_DIR=$DESTDIR/usr/lib/sysusers.d
ENV_DIR=$DESTDIR/etc/kitekeeper
ENV_FILE=$ENV_DIR/.env

fail() {
	echo "install.sh: $*" >&2
	exit 1
}

# Copies $1 to $2 with mode $3 through a temp file and a rename, so a running binary is
# replaced rather than written into (which fails with "Text file busy").
put() {
	tmp="$2.tmp.$$"
	cp -- "$1" "$tmp"
	chmod "$3" "$tmp"
	mv -f -- "$tmp" "$2"
}

[ -f "$BINARY" ] || fail "Failed to find the binary $BINARY: build it with 'deno task compile' or pass its path"
[ -x "$BINARY" ] || fail "Failed to install $BINARY: it is not executable"
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
	fail "Failed to install: run as root, or set DESTDIR to stage the files"
fi

mkdir -p "$BIN_DIR" "$UNIT_DIR" "$SYSUSERS_DIR"
put "$BINARY" "$BIN_DIR/kitekeeper" 0755
put "$SCRIPT_DIR/kitekeeper.service" "$UNIT_DIR/kitekeeper.service" 0644

tmp="$SYSUSERS_DIR/kitekeeper.conf.tmp.$$"
echo "u $SERVICE_USER - \"kitekeeper daemon\" /nonexistent /usr/sbin/nologin" >"$tmp"
chmod 0644 "$tmp"
mv -f -- "$tmp" "$SYSUSERS_DIR/kitekeeper.conf"

if [ -z "$DESTDIR" ] && ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers "$SYSUSERS_DIR/kitekeeper.conf"
	else
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --user-group "$SERVICE_USER"
	fi
fi

# The directory is private: the daemon writes the token through a temp file beside .env.
mkdir -p "$ENV_DIR"
chmod 0700 "$ENV_DIR"

if [ -e "$ENV_FILE" ]; then
	echo "Kept the existing $ENV_FILE"
else
	# noclobber: the template is created only if no .env appeared meanwhile.
	(
		umask 077
		set -C
		cat >"$ENV_FILE" <<'EOF'
# kitekeeper configuration. Keep this file 0600: it holds your Kite API secret.
# Fill in the key and secret from https://developers.kite.trade, then start the service.
KITE_API_KEY=
KITE_API_SECRET=
# Optional: refuse a login by any other Kite user.
KITE_USER_ID=
# The URL your browser uses to reach kitekeeper (the Kite app's redirect URL is this plus
# /api/auth/callback); behind a TLS proxy, its public https origin.
KITEKEEPER_PUBLIC_URL=http://127.0.0.1:8000
# kitekeeper adds KITE_ACCESS_TOKEN=... below after each login.
EOF
	)
	chmod 0600 "$ENV_FILE"
	echo "Wrote a template $ENV_FILE: fill in KITE_API_KEY and KITE_API_SECRET"
fi

if [ -z "$DESTDIR" ]; then
	chown "$SERVICE_USER:$SERVICE_USER" "$ENV_DIR" "$ENV_FILE"
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl daemon-reload
	fi
	echo "Installed. Start it with: systemctl enable --now kitekeeper"
else
	echo "Staged into $DESTDIR"
fi
