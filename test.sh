#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the pinned Azurite (npm ci), Chromium, and
# throwaway PostgreSQL and MariaDB servers, builds Serverless.sln, runs every test project under
# tests/ (in two lanes, see below), and prints the totals as the very last line:
#   N passed, N failed
# (skipped tests, if any, are counted on the line before).
# Exits non-zero when the build fails, a test project fails to run, a test fails, or no test ran.
#
# Usage: ./test.sh [--filter EXPRESSION]   (EXPRESSION is passed to `dotnet test --filter`)
# Environment:
#   TEST_POSTGRES_CONNECTION  use this PostgreSQL (Npgsql form) instead of starting one
#   TEST_MYSQL_CONNECTION     use this MySQL/MariaDB (MySqlConnector form) instead of starting a MariaDB
#   TEST_HANG_TIMEOUT         a single test running longer than this is a hang (default 10m)
#   CHROMIUM_PATH             the Chromium the dashboard tests drive (default: chromium on PATH,
#                             installed with apt-get when missing, by scripts/chromium.sh)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
root=$(pwd)

filter_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --filter)
      [[ $# -ge 2 ]] || { echo "test.sh: --filter needs an expression" >&2; exit 2; }
      filter_args=(--filter "$2")
      shift 2
      ;;
    --filter=*)
      filter_args=(--filter "${1#--filter=}")
      shift
      ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "test.sh: unknown argument '$1' (try --help)" >&2
      exit 2
      ;;
  esac
done

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# MSBuild nodes left idling after the script would hold its output pipe open.
export MSBUILDDISABLENODEREUSE=1
# The suite is CPU-bound on two cores, and most of its processes live seconds to minutes: without dynamic PGO's
# instrumented tier the functions tests took 11 % less CPU (194 s against 218 s), their outcome the same.
export DOTNET_TieredPGO=0

section() { printf '\n=== %s ===\n' "$*"; }
die() { printf '\ntest.sh: %s\n' "$*" >&2; exit 1; }

for tool in dotnet node npm; do
  command -v "$tool" > /dev/null || die "'$tool' is not on PATH; the tests need dotnet and node (with npm)."
done

# --- Build, in the background while Azurite, Chromium and the database servers are installed and started ---
# (the build needs none of them; they mostly wait on downloads and disks). Its output is shown when it ends.
build_log=$(mktemp "${TMPDIR:-/tmp}/serverless-test-build.XXXXXX")
dotnet build Serverless.sln -c Release --verbosity minimal > "$build_log" 2>&1 &
build_pid=$!
# Waits for the build and shows its output; returns the build's exit status.
finish_build() {
  local status=0
  wait "$build_pid" || status=$?
  build_pid=""
  cat "$build_log"
  rm -f "$build_log"
  return "$status"
}
# Stops a build still running when the script ends early.
stop_build() {
  if [[ -n "$build_pid" ]]; then
    kill "$build_pid" 2> /dev/null || true
    finish_build > /dev/null || true
  fi
}
trap stop_build EXIT

# --- Azurite, pinned in package-lock.json ----------------------------------------------------
# npm writes node_modules/.package-lock.json on every install: a lockfile newer than it means
# the pinned tree changed since the last install.
if [[ ! -x node_modules/.bin/azurite || package-lock.json -nt node_modules/.package-lock.json ]]; then
  section "npm ci (Azurite)"
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed; Azurite is required by the tests."
fi
[[ -x node_modules/.bin/azurite ]] || die "node_modules/.bin/azurite is still missing after npm ci."

# --- Chromium for the dashboard tests (Debian's package; Playwright never downloads one) -------
section "Chromium"
chromium_out=$(bash scripts/chromium.sh) || die "scripts/chromium.sh failed; the dashboard tests need a headless Chromium."
CHROMIUM_PATH=$(tail -n 1 <<< "$chromium_out")
export CHROMIUM_PATH

# --- PostgreSQL for the orders participant ---------------------------------------------------
postgres_dir=""
stop_postgres() {
  if [[ -n "$postgres_dir" ]]; then
    local dir=$postgres_dir
    postgres_dir=""
    bash scripts/postgres.sh stop "$dir" > /dev/null 2>&1 || echo "test.sh: could not stop PostgreSQL in $dir" >&2
    rm -rf "$dir"
  fi
}
mariadb_dir=""
stop_mariadb() {
  if [[ -n "$mariadb_dir" ]]; then
    local dir=$mariadb_dir
    mariadb_dir=""
    bash scripts/mariadb.sh stop "$dir" > /dev/null 2>&1 || echo "test.sh: could not stop MariaDB in $dir" >&2
    rm -rf "$dir"
  fi
}
trap 'stop_build; stop_postgres; stop_mariadb' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "${TEST_POSTGRES_CONNECTION:-}" && -f scripts/postgres.sh ]]; then
  section "PostgreSQL"
  postgres_dir=$(mktemp -d "${TMPDIR:-/tmp}/serverless-test-pg.XXXXXX")
  postgres_out=$(bash scripts/postgres.sh start "$postgres_dir") ||
    die "scripts/postgres.sh start failed; set TEST_POSTGRES_CONNECTION to use an existing server."
  TEST_POSTGRES_CONNECTION=$(tail -n 1 <<< "$postgres_out")
  [[ -n "$TEST_POSTGRES_CONNECTION" ]] || die "scripts/postgres.sh start printed no connection string."
  export TEST_POSTGRES_CONNECTION
  echo "started a throwaway PostgreSQL in $postgres_dir"
fi

# --- MariaDB for the ledger participant (MySQL XA) -------------------------------------------
if [[ -z "${TEST_MYSQL_CONNECTION:-}" && -f scripts/mariadb.sh ]]; then
  section "MariaDB"
  mariadb_dir=$(mktemp -d "${TMPDIR:-/tmp}/serverless-test-mdb.XXXXXX")
  mariadb_out=$(bash scripts/mariadb.sh start "$mariadb_dir") ||
    die "scripts/mariadb.sh start failed; set TEST_MYSQL_CONNECTION to use an existing server."
  TEST_MYSQL_CONNECTION=$(tail -n 1 <<< "$mariadb_out")
  [[ -n "$TEST_MYSQL_CONNECTION" ]] || die "scripts/mariadb.sh start printed no connection string."
  export TEST_MYSQL_CONNECTION
  echo "started a throwaway MariaDB in $mariadb_dir"
fi

# --- Build (started above) ------------------------------------------------------------------------
section "dotnet build Serverless.sln -c Release"
finish_build ||
  die "BUILD FAILED: dotnet build Serverless.sln -c Release (see the errors above); no tests were run."

# --- Tests -----------------------------------------------------------------------------------
results_dir="$root/TestResults/test.sh"
rm -rf "$results_dir"
mkdir -p "$results_dir"
solution_projects=$(dotnet sln Serverless.sln list)

projects=()
while IFS= read -r project; do
  [[ "$(basename "$project" .csproj)" == "Serverless.Testing" ]] && continue
  grep -q 'Microsoft.NET.Test.Sdk' "$project" && projects+=("$project")
done < <(find tests -name '*.csproj' -not -path '*/bin/*' -not -path '*/obj/*' | sort)

# Runs one test project; its problems go to $results_dir/$name.broken, so that a run in the background reports them too.
run_project() {
  local project="$1" name
  name=$(basename "$project" .csproj)
  section "$name"
  if ! grep -qxF "$project" <<< "$solution_projects"; then
    echo "test.sh: $project is not in Serverless.sln, so it was not built; add it: dotnet sln Serverless.sln add $project" >&2
    echo "$name (not in Serverless.sln)" >> "$results_dir/$name.broken"
    return
  fi
  if ! dotnet test "$project" -c Release --no-build \
    --logger "trx;LogFileName=$name.trx" --results-directory "$results_dir" \
    --blame-hang-timeout "${TEST_HANG_TIMEOUT:-10m}" --blame-hang-dump-type none \
    --verbosity minimal ${filter_args[@]+"${filter_args[@]}"}; then
    echo "$name" >> "$results_dir/$name.broken"
  fi
  if [[ ! -f "$results_dir/$name.trx" ]]; then
    echo "test.sh: $name wrote no results file (the test host crashed or never started)" >&2
    echo "$name (no results)" >> "$results_dir/$name.broken"
  fi
}

# Two lanes, to stay inside the suite's time budget on two cores (a third one was tried: the machine is CPU-bound, and
# it took two minutes longer). In the background, the crash tests (which mostly wait on deadlines, kills and restarts of
# their own processes), the resilience tests (storage outages, mostly waiting on Durable's leases), then the
# infrastructure tests (Bicep compilations, which use both cores); in the foreground meanwhile, the quick projects one
# after another, then the functions tests (many in-process hosts, about one core). A lane runs its projects one after
# another; the two end at about the same time.
background=(tests/Serverless.Crash.Tests/Serverless.Crash.Tests.csproj tests/Serverless.Resilience.Tests/Serverless.Resilience.Tests.csproj tests/Serverless.Infra.Tests/Serverless.Infra.Tests.csproj)
last=(tests/Serverless.Functions.Tests/Serverless.Functions.Tests.csproj)
run_lane() {
  local project
  for project in "$@"; do
    if [[ " ${projects[*]} " == *" $project "* ]]; then run_project "$project"; fi
  done
}
run_lane "${background[@]}" > "$results_dir/background.log" 2>&1 &
background_pid=$!
for project in "${projects[@]}"; do
  if [[ " ${background[*]} ${last[*]} " != *" $project "* ]]; then run_project "$project"; fi
done
run_lane "${last[@]}"
wait "$background_pid" || true
cat "$results_dir/background.log"

broken=()
for file in "$results_dir"/*.broken; do
  if [[ -f "$file" ]]; then while IFS= read -r line; do broken+=("$line"); done < "$file"; fi
done

stop_postgres
stop_mariadb

# --- Totals ----------------------------------------------------------------------------------
counter() { grep -o "<Counters [^>]*>" "$1" | grep -o " $2=\"[0-9]*\"" | grep -o '[0-9]\+' || echo 0; }
passed=0 failed=0 skipped=0
section "Summary"
for trx in "$results_dir"/*.trx; do
  [[ -f "$trx" ]] || continue
  total=$(counter "$trx" total)
  p=$(counter "$trx" passed)
  f=$(( $(counter "$trx" failed) + $(counter "$trx" error) + $(counter "$trx" timeout) + $(counter "$trx" aborted) ))
  # Not run = never executed (skipped) plus executed without passing or failing (inconclusive and such).
  s=$(( total - p - f ))
  (( s < 0 )) && s=0
  printf '  %-40s %5d passed %5d failed %5d skipped\n' "$(basename "$trx" .trx)" "$p" "$f" "$s"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

status=0
if (( ${#broken[@]} > 0 )); then
  printf 'test projects that failed to run or reported failure:\n' >&2
  printf '  %s\n' "${broken[@]}" >&2
  status=1
fi
(( failed == 0 )) || status=1
if (( passed + failed == 0 )); then
  echo "test.sh: no tests ran (${#projects[@]} test projects found under tests/)" >&2
  status=1
fi

(( skipped == 0 )) || echo "($skipped skipped: switched off, each with its reason in its test)"
echo "$passed passed, $failed failed"
exit "$status"
