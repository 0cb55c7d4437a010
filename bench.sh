#!/usr/bin/env bash
# The standard benchmark, against its own Azurite (on disk, 127.0.0.1, --disableTelemetry) and its own local Functions
# host: 2-branch transfers over HTTP at concurrency 1, 8, 32 and 128 (at 1, 8 and 32 also against the textbook Durable
# 2PC in bench/, compared), 20% aborts, 5 branches, one-phase, Azurite's capacity, and one versus two host processes.
# Prints a table; with --json FILE also writes the figures as JSON. Takes a few minutes.
#
# Usage: ./bench.sh [--json FILE] [--quick] [--no-scale-out] [--capacity-seconds N] [--timeout-seconds N] [--only NAMES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# MSBuild nodes left idling after the script would hold its output pipe open.
export MSBUILDDISABLENODEREUSE=1

for arg in "$@"; do
  if [[ "$arg" == "-h" || "$arg" == "--help" ]]; then
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
  fi
done

for tool in dotnet node npm; do
  command -v "$tool" > /dev/null || { echo "bench.sh: '$tool' is not on PATH" >&2; exit 1; }
done

if [[ ! -x node_modules/.bin/azurite || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "bench.sh: installing Azurite from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The scale-out phase runs the local Functions host's own Release build (src/Serverless.LocalHost/bin/Release); the bench
# project references the same host and runs it in its own process for the other phases. Errors only: the restore's NU1603
# warnings (package versions resolved upward) would bury the figures; the code itself builds with warnings as errors.
dotnet build src/Serverless.LocalHost -c Release --nologo -v quiet -clp:ErrorsOnly
dotnet build bench/Serverless.Bench -c Release --nologo -v quiet -clp:ErrorsOnly
exec dotnet bench/Serverless.Bench/bin/Release/net10.0/Serverless.Bench.dll "$@"
