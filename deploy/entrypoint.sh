#!/bin/sh
# Container entrypoint: when the command is `preread serve` or `preread worker` (both
# fill the local store), start the cleanup loop (deploy/cleanup-loop.sh) in the
# background next to it; then exec the command, so the server receives the stop signal
# (SIGTERM) directly. Any other command runs as given:
#   docker run --rm -v preread_data:/data preread preread stats
set -eu

case "${1:-} ${2:-}" in
    "preread serve" | "preread worker")
        if [ "${PREREAD_CLEANUP_INTERVAL:-1h}" != "off" ]; then
            preread-cleanup-loop &
        fi
        ;;
esac

exec "$@"
