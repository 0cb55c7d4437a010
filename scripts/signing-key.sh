#!/usr/bin/env bash
# Usage: scripts/signing-key.sh SETTINGS_JSON
# Protocol messages are always signed, and the app refuses to start without TRANSACTIONS_SIGNING_KEY. When the given
# local.settings.json has no key (and the environment sets none), writes a random one into it (48 random bytes, base64),
# makes the file readable by its owner only, and says so, without ever printing the key. Otherwise changes nothing.
set -euo pipefail
settings="${1:?usage: scripts/signing-key.sh SETTINGS_JSON}"
if [[ -n "${TRANSACTIONS_SIGNING_KEY:-}" ]]; then exit 0; fi
if node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));process.exit((s.Values||{}).TRANSACTIONS_SIGNING_KEY?0:1)' "$settings"; then
  exit 0
fi
node -e 'const fs=require("fs");const p=process.argv[1];const s=JSON.parse(fs.readFileSync(p));s.Values=s.Values||{};s.Values.TRANSACTIONS_SIGNING_KEY=require("crypto").randomBytes(48).toString("base64");fs.writeFileSync(p,JSON.stringify(s,null,2)+"\n",{mode:0o600})' "$settings"
chmod 600 "$settings"
echo "signing-key.sh: generated a random TRANSACTIONS_SIGNING_KEY in $(basename "$settings") (not shown)"
