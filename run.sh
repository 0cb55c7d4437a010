#!/usr/bin/env bash
# Runs the local Functions-style host on http://127.0.0.1:7071 with the coordinator and the sample
# participants, against Azurite (started here unless something already listens on its ports).
set -euo pipefail
cd "$(dirname "$0")"
root="$(pwd)"

need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh: '$1' is required but not installed" >&2; exit 1; }; }
need dotnet
need node

if [[ ! -x node_modules/.bin/azurite || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "run.sh: installing Azurite from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund
fi

if [[ ! -f local.settings.json ]]; then
  cp local.settings.sample.json local.settings.json
  echo "run.sh: created local.settings.json from local.settings.sample.json"
fi

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

if listening 10000 || listening 10001 || listening 10002; then
  echo "run.sh: something already listens on Azurite's ports (10000-10002); using it"
else
  mkdir -p .azurite
  node_modules/.bin/azurite --silent --disableTelemetry --location .azurite --debug .azurite/debug.log \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 --skipApiVersionCheck --loose &
  pids+=($!)
  for _ in $(seq 1 100); do listening 10002 && listening 10001 && break; sleep 0.1; done
  listening 10001 || { echo "run.sh: Azurite did not start; see .azurite/debug.log" >&2; exit 1; }
  echo "run.sh: Azurite is up (data in .azurite/)"
fi

# The orders participant needs PostgreSQL: start a local one when no connection is configured.
if [[ -x scripts/postgres.sh ]] && ! grep -q '"ORDERS_POSTGRES_CONNECTION": *"[^"]' local.settings.json && [[ -z "${ORDERS_POSTGRES_CONNECTION:-}" ]]; then
  echo "run.sh: starting a local PostgreSQL for the orders participant"
  conn="$(scripts/postgres.sh start "$root/.postgres" | tail -n 1)"
  export ORDERS_POSTGRES_CONNECTION="$conn"
  echo "run.sh: orders database: $conn"
fi

dotnet build src/Serverless.Functions -c Release --nologo -v quiet
echo "run.sh: host on http://127.0.0.1:$(grep -o '"LocalHttpPort": *[0-9]*' local.settings.json | grep -o '[0-9]*$' || echo 7071) (Ctrl+C stops it)"
FUNCTIONS_APP_ROOT="$root" dotnet src/Serverless.Functions/bin/Release/net10.0/Serverless.Functions.dll &
pids+=($!)
wait "${pids[-1]}"
