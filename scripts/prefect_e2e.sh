#!/usr/bin/env bash
# End to end on a real Prefect server, exactly as the README's "Run it on a schedule":
# start a server, create the process pool, deploy both flows from prefect.yaml, start a
# worker, trigger weekly-digest on a small synthetic org, wait for Completed, then stop
# everything this script started (by PID). Run from the repository root:
#
#     bash scripts/prefect_e2e.sh
#
# Uses its own PREFECT_HOME and port, so it never touches another Prefect setup.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d -t retention-e2e-XXXXXX)"
PORT="${E2E_PORT:-4299}"
PIDS=()

stop_all() {
    for pid in "${PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true   # a process worker may ignore SIGTERM for a while
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap stop_all EXIT

export PREFECT_HOME="$WORK/prefect-home"
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export PREFECT_SERVER_API_PORT="$PORT"
export RETENTION_HOME="$ROOT"
cd "$ROOT"

echo "== a small synthetic org in $WORK"
cat > "$WORK/retention.toml" <<EOF
[store]
path = "$WORK/retention.duckdb"
[delivery]
outbox_dir = "$WORK/outbox"
[report]
dir = "$WORK/reports"
[model]
dir = "$WORK/model"
[flows]
drop_dir = "$WORK/drop"
EOF
retention --config "$WORK/retention.toml" synth --employees 120 --months 12 --out "$WORK/drop" >/dev/null

echo "== prefect server start (port $PORT)"
prefect server start --host 127.0.0.1 --port "$PORT" >"$WORK/server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 180); do
    curl -fsS "$PREFECT_API_URL/health" >/dev/null 2>&1 && break
    sleep 1
done
curl -fsS "$PREFECT_API_URL/health" >/dev/null || { echo "server did not start"; tail -20 "$WORK/server.log"; exit 1; }

echo "== prefect work-pool create retention --type process"
prefect work-pool create retention --type process --overwrite >/dev/null

echo "== prefect deploy --all"
prefect --no-prompt deploy --all >"$WORK/deploy.log" 2>&1 || { cat "$WORK/deploy.log"; exit 1; }

echo "== prefect worker start --pool retention"
prefect worker start --pool retention >"$WORK/worker.log" 2>&1 &
PIDS+=($!)

WEEK="$(python -c 'import datetime as d; y, w, _ = d.date.today().isocalendar(); print(f"{y}-W{w:02d}")')"
echo "== prefect deployment run weekly-digest/weekly-digest (week $WEEK)"
RUN_ID="$(python - "$WORK/retention.toml" "$WEEK" <<'PY'
import asyncio, sys
from prefect.deployments import run_deployment

run = run_deployment(
    "weekly-digest/weekly-digest",
    parameters={"config_path": sys.argv[1], "week": sys.argv[2]},
    timeout=0,
)
print(run.id)
PY
)"

STATE=""
for _ in $(seq 1 300); do
    STATE="$(python - "$RUN_ID" <<'PY'
import asyncio, sys
from prefect.client.orchestration import get_client

async def main() -> None:
    async with get_client() as client:
        run = await client.read_flow_run(sys.argv[1])
        print(run.state.type.value if run.state else "PENDING")

asyncio.run(main())
PY
)"
    case "$STATE" in COMPLETED|FAILED|CRASHED|CANCELLED) break ;; esac
    sleep 2
done
echo "== flow run $RUN_ID: $STATE"
if [ "$STATE" != "COMPLETED" ]; then
    tail -40 "$WORK/worker.log"
    exit 1
fi
ls "$WORK/outbox"/*/*.eml >/dev/null && ls "$WORK/reports"/*/hr-summary.html >/dev/null
echo "== digests and the HR summary are there; stopping everything this script started"
