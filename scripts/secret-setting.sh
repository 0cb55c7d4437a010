#!/usr/bin/env bash
# Usage: scripts/secret-setting.sh SETTINGS_JSON NAME
# Gives a local.settings.json a random secret of its own: when the file's Values has no NAME (and the environment sets
# none), writes a random one into it (48 random bytes, base64), makes the file readable by its owner only, and says so,
# without ever printing the secret. Otherwise changes nothing. ./run.sh runs it for TRANSACTIONS_SIGNING_KEY (through
# scripts/signing-key.sh) and PAYMENTS_API_KEY.
set -euo pipefail
settings="${1:?usage: scripts/secret-setting.sh SETTINGS_JSON NAME}"
name="${2:?usage: scripts/secret-setting.sh SETTINGS_JSON NAME}"
[[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "secret-setting.sh: '$name' is not a setting name" >&2; exit 2; }
if [[ -n "${!name:-}" ]]; then exit 0; fi
if node -e 'const s=JSON.parse(require("fs").readFileSync(process.argv[1]));process.exit((s.Values||{})[process.argv[2]]?0:1)' "$settings" "$name"; then
  exit 0
fi
node -e 'const fs=require("fs");const p=process.argv[1];const s=JSON.parse(fs.readFileSync(p));s.Values=s.Values||{};s.Values[process.argv[2]]=require("crypto").randomBytes(48).toString("base64");fs.writeFileSync(p,JSON.stringify(s,null,2)+"\n",{mode:0o600})' "$settings" "$name"
chmod 600 "$settings"
echo "secret-setting.sh: generated a random $name in $(basename "$settings") (not shown)"
