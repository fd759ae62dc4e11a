#!/usr/bin/env bash
# `make bench`: runs every bench/bench_*.py with the project's venv and prints its output.
# Each script prints its own figures next to a baseline measured in the same run.
# Exit status: 1 if any script failed (all of them still run), else 0.
set -uo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
if [[ ! -x "$PY" ]]; then
    echo "bench/run.sh: $PY not found; run 'make install' (or 'make bench') first" >&2
    exit 2
fi

shopt -s nullglob
scripts=(bench/bench_*.py)
if (( ${#scripts[@]} == 0 )); then
    echo "bench/run.sh: no bench/bench_*.py scripts yet"
    exit 0
fi

echo "# preread benchmarks: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $("$PY" --version 2>&1)"
failed=()
for script in "${scripts[@]}"; do
    echo
    echo "== $script"
    start=$SECONDS
    if "$PY" "$script"; then
        echo "-- $script: ok ($((SECONDS - start)) s)"
    else
        status=$?
        echo "-- $script: FAILED (exit $status, $((SECONDS - start)) s)"
        failed+=("$script")
    fi
done

echo
if (( ${#failed[@]} )); then
    echo "bench/run.sh: ${#failed[@]} of ${#scripts[@]} failed: ${failed[*]}"
    exit 1
fi
echo "bench/run.sh: all ${#scripts[@]} ran"
