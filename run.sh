#!/usr/bin/env bash
# Runs the Functions app on the local Functions host on http://127.0.0.1:7071 (the port in local.settings.json), with
# the coordinator and the sample participants, against Azurite (started here unless something already listens on its
# ports), a local PostgreSQL for the orders participant and a local MariaDB for the ledger participant (each started here
# unless local.settings.json names another), and the demo payment service on http://127.0.0.1:7072 (src/Serverless.Payments,
# data in .payments-data/; started here unless something already listens on 7072), which the app reaches at PAYMENTS_URL
# with the bearer PAYMENTS_API_KEY (a random one written into local.settings.json the first time); and the participants
# that live in services of their own (docs/participants.md), each with the key the coordinator derives for it: the
# shipping app (src/Serverless.Shipping, its own Functions app on the local Functions host, http://127.0.0.1:7073, its own
# PostgreSQL database `shipping`) and loyalty (src/loyalty, Node, http://127.0.0.1:7074, data in .loyalty-data/), each
# started here unless something already listens on its port.
# With Azure Functions Core Tools installed you can instead run: cd src/Serverless.Functions && func start
set -euo pipefail
cd "$(dirname "$0")"
root="$(pwd)"
app="$root/src/Serverless.Functions"
settings="$app/local.settings.json"

need() { command -v "$1" >/dev/null 2>&1 || { echo "run.sh: '$1' is required but not installed" >&2; exit 1; }; }
need dotnet
need node
need npm

if [[ ! -x node_modules/.bin/azurite || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "run.sh: installing Azurite from package-lock.json (npm ci)"
  npm ci --no-audit --no-fund
fi

if [[ ! -f "$settings" ]]; then
  cp "$app/local.settings.sample.json" "$settings"
  echo "run.sh: created src/Serverless.Functions/local.settings.json from local.settings.sample.json"
fi

# Protocol messages are always signed and the host refuses to start without a key: the first run gives this clone a
# random one of its own in local.settings.json, never printed.
scripts/signing-key.sh "$settings"
# Likewise the demo payment service's key: the service answers 401 to a call without it, and the app sends it.
scripts/secret-setting.sh "$settings" PAYMENTS_API_KEY

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pids=()
stop_postgres=0
stop_mariadb=0
cleanup() {
  # The host first, while Azurite still answers, so that it can release its task hub partitions; then the participants'
  # services and the payment service, then Azurite.
  local i
  for (( i = ${#pids[@]} - 1; i >= 0; i-- )); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  pids=()
  if [[ "$stop_postgres" == 1 ]]; then scripts/postgres.sh stop "$root/.postgres" >/dev/null 2>&1 || true; fi
  if [[ "$stop_mariadb" == 1 ]]; then bash scripts/mariadb.sh stop "$root/.mariadb" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT INT TERM

if listening 10000 || listening 10001 || listening 10002; then
  echo "run.sh: something already listens on Azurite's ports (10000-10002); using it"
else
  mkdir -p .azurite
  node_modules/.bin/azurite --silent --disableTelemetry --location .azurite --debug .azurite/debug.log \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 --skipApiVersionCheck --loose &
  pids+=($!)
  for _ in $(seq 1 100); do listening 10000 && listening 10001 && listening 10002 && break; sleep 0.1; done
  listening 10001 || { echo "run.sh: Azurite did not start; see .azurite/debug.log" >&2; exit 1; }
  echo "run.sh: Azurite is up (data in .azurite/)"
fi

# The orders participant needs PostgreSQL: when local.settings.json names none (or names the one this script made
# before), start a local one in .postgres/ and write its connection string into local.settings.json.
setting() { node -e 'const s=require(process.argv[1]);process.stdout.write((s.Values||{})[process.argv[2]]||"")' "$settings" "$1"; }
configured="${ORDERS_POSTGRES_CONNECTION:-$(setting ORDERS_POSTGRES_CONNECTION)}"
if [[ -z "$configured" || ( -f .postgres/connection && "$configured" == "$(cat .postgres/connection)" ) ]]; then
  echo "run.sh: starting a local PostgreSQL for the orders participant (data in .postgres/)"
  conn="$(scripts/postgres.sh start "$root/.postgres" | tail -n 1)"
  echo "$conn" > .postgres/connection
  node -e 'const fs=require("fs");const p=process.argv[1];const s=JSON.parse(fs.readFileSync(p));s.Values=s.Values||{};s.Values.ORDERS_POSTGRES_CONNECTION=process.argv[2];fs.writeFileSync(p,JSON.stringify(s,null,2)+"\n")' "$settings" "$conn"
  stop_postgres=1
fi

# The ledger participant needs MySQL: likewise, a local MariaDB in .mariadb/ unless local.settings.json names another.
configured="${LEDGER_MYSQL_CONNECTION:-$(setting LEDGER_MYSQL_CONNECTION)}"
if [[ -z "$configured" || ( -f .mariadb/connection && "$configured" == "$(cat .mariadb/connection)" ) ]]; then
  echo "run.sh: starting a local MariaDB for the ledger participant (data in .mariadb/)"
  conn="$(bash scripts/mariadb.sh start "$root/.mariadb" | tail -n 1)"
  [[ "$conn" == Server=* ]] || { echo "run.sh: scripts/mariadb.sh start printed no connection string" >&2; exit 1; }
  echo "$conn" > .mariadb/connection
  node -e 'const fs=require("fs");const p=process.argv[1];const s=JSON.parse(fs.readFileSync(p));s.Values=s.Values||{};s.Values.LEDGER_MYSQL_CONNECTION=process.argv[2];fs.writeFileSync(p,JSON.stringify(s,null,2)+"\n")' "$settings" "$conn"
  stop_mariadb=1
fi

# The saga's external payment service: its own process with its own journal, as a payment provider would be, requiring
# the PAYMENTS_API_KEY of local.settings.json (or of the environment) as the bearer of every request.
payments_port=7072
export PAYMENTS_URL="http://127.0.0.1:$payments_port"
payments_key="${PAYMENTS_API_KEY:-$(setting PAYMENTS_API_KEY)}"
if listening "$payments_port"; then
  echo "run.sh: something already listens on $payments_port; using it as the payment service"
  # Asks its /health with this clone's key (never printed): a service started with another key refuses every charge.
  if ! PAYMENTS_API_KEY="$payments_key" node -e 'require("http").get(process.argv[1],{headers:{authorization:"Bearer "+process.env.PAYMENTS_API_KEY},timeout:3000},r=>process.exit(r.statusCode===401?1:0)).on("error",()=>process.exit(0)).on("timeout",function(){this.destroy()})' "$PAYMENTS_URL/health"; then
    echo "run.sh: warning: the service on $payments_port answers 401 to this clone's PAYMENTS_API_KEY (local.settings.json); the app's charges will fail until both use the same key" >&2
  fi
else
  dotnet build src/Serverless.Payments -c Release --nologo -v quiet
  mkdir -p .payments-data
  PAYMENTS_API_KEY="$payments_key" PAYMENTS_DATA_DIR="$root/.payments-data" dotnet src/Serverless.Payments/bin/Release/net10.0/Serverless.Payments.dll \
    --urls "$PAYMENTS_URL" >> .payments-data/payments.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do listening "$payments_port" && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
  listening "$payments_port" || { echo "run.sh: the payment service did not start; its log:" >&2; tail -n 20 .payments-data/payments.log >&2; exit 1; }
  echo "run.sh: payment service on $PAYMENTS_URL (data and log in .payments-data/)"
fi

dotnet build src/Serverless.LocalHost -c Release --nologo -v quiet

# The participants in services of their own. Each gets only its own key (scripts/participant-key.sh: configured in
# local.settings.json as PARTICIPANT_{NAME}_SIGNING_KEY, else derived from TRANSACTIONS_SIGNING_KEY), never the coordinator's.
# The shipping app: another team's isolated-worker Functions app, reaching the coordinator only through its inbox
# tx-participant-shipping and tx-coordinator (COORDINATOR_STORAGE), with a PostgreSQL database of its own.
shipping_port=7073
if listening "$shipping_port"; then
  echo "run.sh: something already listens on $shipping_port; using it as the shipping app"
else
  shipping_db="${SHIPPING_POSTGRES_CONNECTION:-}"
  if [[ -z "$shipping_db" ]]; then
    [[ "$stop_postgres" == 1 ]] || { scripts/postgres.sh start "$root/.postgres" > /dev/null; stop_postgres=1; }
    shipping_db="$(scripts/postgres.sh database "$root/.postgres" shipping | tail -n 1)"
  fi
  dotnet build src/Serverless.Shipping -c Release --nologo -v quiet
  mkdir -p .shipping-data
  coordinator_storage="${AzureWebJobsStorage:-$(setting AzureWebJobsStorage)}"
  FUNCTIONS_APP_ROOT="$root/src/Serverless.Shipping" AzureWebJobsStorage="${coordinator_storage:-UseDevelopmentStorage=true}" \
    COORDINATOR_STORAGE="${coordinator_storage:-UseDevelopmentStorage=true}" \
    PARTICIPANT_SHIPPING_SIGNING_KEY="$(scripts/participant-key.sh shipping "$settings")" SHIPPING_POSTGRES_CONNECTION="$shipping_db" \
    TRANSACTIONS_IN_DOUBT_SCHEDULE="${TRANSACTIONS_IN_DOUBT_SCHEDULE:-0 */1 * * * *}" LOCALHOST_WORKER_ID=shipping \
    dotnet src/Serverless.LocalHost/bin/Release/net10.0/Serverless.LocalHost.dll \
    --app src/Serverless.Shipping/bin/Release/net10.0/Serverless.Shipping.dll --Host:LocalHttpPort "$shipping_port" >> .shipping-data/shipping.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do listening "$shipping_port" && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
  listening "$shipping_port" || { echo "run.sh: the shipping app did not start; its log:" >&2; tail -n 20 .shipping-data/shipping.log >&2; exit 1; }
  echo "run.sh: shipping app on http://127.0.0.1:$shipping_port (log in .shipping-data/)"
fi

# loyalty: an HTTP participant written for Node, with a journal of its own; the coordinator posts its commands to /tx.
loyalty_port=7074
export PARTICIPANT_LOYALTY_URL="${PARTICIPANT_LOYALTY_URL:-$(setting PARTICIPANT_LOYALTY_URL)}"
export PARTICIPANT_LOYALTY_KINDS="${PARTICIPANT_LOYALTY_KINDS:-$(setting PARTICIPANT_LOYALTY_KINDS)}"
PARTICIPANT_LOYALTY_URL="${PARTICIPANT_LOYALTY_URL:-http://127.0.0.1:$loyalty_port/tx}"
PARTICIPANT_LOYALTY_KINDS="${PARTICIPANT_LOYALTY_KINDS:-tcc}"
if listening "$loyalty_port"; then
  echo "run.sh: something already listens on $loyalty_port; using it as loyalty"
else
  mkdir -p .loyalty-data
  PARTICIPANT_LOYALTY_SIGNING_KEY="$(scripts/participant-key.sh loyalty "$settings")" LOYALTY_DATA_DIR="$root/.loyalty-data" \
    node src/loyalty/server.js --port "$loyalty_port" >> .loyalty-data/loyalty.log 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do listening "$loyalty_port" && break; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
  listening "$loyalty_port" || { echo "run.sh: loyalty did not start; its log:" >&2; tail -n 20 .loyalty-data/loyalty.log >&2; exit 1; }
  echo "run.sh: loyalty on http://127.0.0.1:$loyalty_port (data and log in .loyalty-data/)"
fi

port="$(node -e 'const s=require(process.argv[1]);process.stdout.write(String((s.Host||{}).LocalHttpPort||7071))' "$settings")"
echo "run.sh: local Functions host on http://127.0.0.1:$port (Ctrl+C stops it)"
FUNCTIONS_APP_ROOT="$app" dotnet src/Serverless.LocalHost/bin/Release/net10.0/Serverless.LocalHost.dll &
pids+=($!)
wait "${pids[-1]}"
