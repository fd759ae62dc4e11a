#!/bin/sh
# The image's cron: runs `preread cleanup` (LRU eviction down to PREREAD_MAX_BYTES) a
# little after start, then every PREREAD_CLEANUP_INTERVAL (default 1h; `sleep` syntax:
# 90s, 30m, 1h, 1d). Each run prints one JSON report line to stdout (the logs).
# Extra flags in PREREAD_CLEANUP_ARGS, e.g. "--older-than 30d".
# Why a loop and not cron or a Fly scheduled machine: see README, "Cron".
set -u

interval="${PREREAD_CLEANUP_INTERVAL:-1h}"
first_delay="${PREREAD_CLEANUP_DELAY:-60s}"

sleep "$first_delay"
while :; do
    # PREREAD_CLEANUP_ARGS is split into words on purpose.
    # shellcheck disable=SC2086
    preread cleanup --json ${PREREAD_CLEANUP_ARGS:-} \
        || echo "preread-cleanup-loop: preread cleanup failed (exit $?)" >&2
    sleep "$interval"
done
