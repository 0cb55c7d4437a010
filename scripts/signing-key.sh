#!/usr/bin/env bash
# Usage: scripts/signing-key.sh SETTINGS_JSON
# Protocol messages are always signed, and the app refuses to start without TRANSACTIONS_SIGNING_KEY. When the given
# local.settings.json has no key (and the environment sets none), writes a random one into it (48 random bytes, base64),
# makes the file readable by its owner only, and says so, without ever printing the key. Otherwise changes nothing.
set -euo pipefail
exec bash "$(dirname "$0")/secret-setting.sh" "${1:?usage: scripts/signing-key.sh SETTINGS_JSON}" TRANSACTIONS_SIGNING_KEY
