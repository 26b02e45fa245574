#!/usr/bin/env bash
# Stop the daemons started by start.sh (by their recorded PIDs), newest first.
# --purge also deletes the state folder (database, job state, logs, munge key).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"

for d in "${DAEMONS[@]}"; do
    f=$(pid_file "$d")
    [[ -s $f ]] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        echo "stop.sh: stopped $d ($pid)"
    fi
    rm -f "$f"
done
if [[ ${1:-} == --purge ]]; then
    rm -rf "$STATE"
    echo "stop.sh: removed $STATE"
fi
