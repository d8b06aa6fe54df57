#!/usr/bin/env bash
# Makes the secrets deploy/compose.yaml reads, once, under deploy/secrets/
# (or $SECRETS_DIR): the PostgreSQL password, the URL that carries it, and
# the master key that wraps personal data. Existing files are kept: a new
# master key would make the data already stored unreadable.
set -euo pipefail
dir="${SECRETS_DIR:-$(dirname "$0")/secrets}"
mkdir -p "$dir"
chmod 0700 "$dir"
# Readable inside the containers, whose users differ from yours; the
# directory above keeps them from other users on this machine.
umask 022

random_base64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }

if [ ! -f "$dir/postgres_password" ]; then
    random_base64 24 | tr '+/' '-_' >"$dir/postgres_password"
fi
if [ ! -f "$dir/database_url" ]; then
    printf 'postgres://passerelle:%s@postgres:5432/passerelle\n' "$(cat "$dir/postgres_password")" >"$dir/database_url"
fi
if [ ! -f "$dir/master_key" ]; then
    random_base64 32 >"$dir/master_key"
    echo "new master key in $dir/master_key: back it up with the database" >&2
fi
echo "secrets in $dir"
