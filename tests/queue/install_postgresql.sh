#!/bin/sh
# Installs Debian's PostgreSQL server for the queue tests when it is missing (idempotent;
# tests/apt_install.sh). Never fails the build: without initdb the queue tests skip and
# say why.
set -u
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  [ -x "$initdb" ] && exit 0
done
exec sh "$(dirname "$0")/../apt_install.sh" postgresql "queue tests"
