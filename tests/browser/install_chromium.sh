#!/bin/sh
# Installs Debian's chromium for the browser tests when it is missing (idempotent;
# tests/apt_install.sh). Never fails the build: without Chromium the browser tests skip
# and say why.
set -u
CHROMIUM=${PREREAD_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] && exit 0
exec sh "$(dirname "$0")/../apt_install.sh" chromium "browser tests"
