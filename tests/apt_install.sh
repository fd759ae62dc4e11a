#!/bin/sh
# Usage: sh tests/apt_install.sh PACKAGE WHAT
# Installs Debian's PACKAGE (idempotent: the callers check first whether it is there).
# Runs `apt-get update` only when the package cannot be found. Never fails the build:
# without the package WHAT skip and say why ("browser tests", "queue tests").
set -u
PACKAGE=$1
WHAT=$2
command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: $WHAT will skip"; exit 0; }
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
apt_install() { $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$PACKAGE" >/dev/null; }
apt_install || { $SUDO apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null && apt_install; } \
  || echo "could not install $PACKAGE: $WHAT will skip"
exit 0
