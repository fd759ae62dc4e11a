#!/bin/sh
# Installs Debian's chromium for the browser tests when it is missing (idempotent).
# Runs `apt-get update` only when the package cannot be found. Never fails the build:
# without Chromium the browser tests skip and say why.
set -u
CHROMIUM=${PREREAD_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: browser tests will skip"; exit 0; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
apt_install() { $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium >/dev/null; }
apt_install || { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && apt_install; } \
  || echo "could not install chromium: browser tests will skip"
exit 0
