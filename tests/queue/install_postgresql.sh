#!/bin/sh
# Installs Debian's PostgreSQL server for the queue tests when it is missing (idempotent).
# Runs `apt-get update` only when the package cannot be found. Never fails the build:
# without initdb the queue tests skip and say why.
set -u
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  [ -x "$initdb" ] && exit 0
done
command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: queue tests will skip"; exit 0; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
apt_install() { $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends postgresql >/dev/null; }
apt_install || { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && apt_install; } \
  || echo "could not install postgresql: queue tests will skip"
exit 0
