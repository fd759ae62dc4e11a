#!/bin/sh
# Container entrypoint: when the command is `preread serve`, start the cleanup loop
# (deploy/cleanup-loop.sh) in the background next to it; then exec the command, so the
# server receives the stop signal (SIGTERM) directly. Any other command runs as given:
#   docker run --rm -v preread_data:/data preread preread stats
set -eu

if [ "${1:-}" = "preread" ] && [ "${2:-}" = "serve" ] && [ "${PREREAD_CLEANUP_INTERVAL:-1h}" != "off" ]; then
    preread-cleanup-loop &
fi

exec "$@"
