#!/usr/bin/env bash
# Usage: scripts/participant-key.sh NAME [SETTINGS_JSON]
# Prints the signing key of participant NAME as the coordinator holds it (docs/participants.md, "One key per participant"):
# PARTICIPANT_{NAME}_SIGNING_KEY when the environment or the coordinator's settings (default
# src/Serverless.Functions/local.settings.json) set one, else the key derived from the coordinator's TRANSACTIONS_SIGNING_KEY:
#   base64url without padding of HMAC-SHA256(TRANSACTIONS_SIGNING_KEY, "tx-participant:" + NAME)
# Give it to that participant only: it is the participant's secret, and signs nothing any other participant accepts.
set -euo pipefail
name="${1:?usage: scripts/participant-key.sh NAME [SETTINGS_JSON]}"
settings="${2:-$(dirname "$0")/../src/Serverless.Functions/local.settings.json}"
[[ "$name" =~ ^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$ && "$name" != *--* ]] ||
  { echo "participant-key.sh: '$name' is not a participant name (1-40 of a-z, 0-9 and inner single hyphens)" >&2; exit 2; }
setting="PARTICIPANT_$(tr 'a-z-' 'A-Z_' <<< "$name")_SIGNING_KEY"
node -e '
const fs = require("fs"), crypto = require("crypto");
const [name, setting, file] = process.argv.slice(1);
const values = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file)).Values || {}) : {};
const get = key => (process.env[key] || values[key] || "").trim();
let key = get(setting);
if (!key) {
  const coordinator = get("TRANSACTIONS_SIGNING_KEY");
  if (!coordinator) {
    console.error(`participant-key.sh: neither ${setting} nor TRANSACTIONS_SIGNING_KEY is set (in the environment or ${file}); ./run.sh writes the latter`);
    process.exit(1);
  }
  key = crypto.createHmac("sha256", coordinator).update("tx-participant:" + name).digest("base64url");
}
process.stdout.write(key + "\n");
' "$name" "$setting" "$settings"
