#!/usr/bin/env bash
# Regenerates every fixture in samples/logs/ from real runs.
#   bash samples/gen/generate.sh            # all fixtures
#   bash samples/gen/generate.sh NAME ...   # only these fixtures
#   HA=1 bash samples/gen/generate.sh       # also the Home Assistant fixtures (opt-in:
#                                           # a ~110-package venv, ~1 min per hass run)
#   bash samples/gen/generate.sh homeassistant_debug   # a Home Assistant fixture alone
# Venvs go to samples/.venvs (git-ignored); override with VENVS=/some/dir.
# Needs pyenv interpreters 3.11.7, 3.12.1, 3.13.0 (or PY311/PY312/PY313=path).
set -euo pipefail
GEN="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SAMPLES="$(dirname "$GEN")"
VENVS="${VENVS:-$SAMPLES/.venvs}"
PY311="${PY311:-/root/.pyenv/versions/3.11.7/bin/python}"
PY312="${PY312:-/root/.pyenv/versions/3.12.1/bin/python}"
PY313="${PY313:-/root/.pyenv/versions/3.13.0/bin/python}"
mkdir -p "$VENVS"

mkvenv() {  # name python requirements-file
  local dir="$VENVS/$1" stamp="$VENVS/$1/.installed"
  if [[ -f "$stamp" ]] && cmp -s "$3" "$stamp"; then return; fi
  rm -rf "$dir"
  "$2" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$3"
  cp "$3" "$stamp"
}

mkvenv py312-aio313 "$PY312" "$GEN/requirements-py312-aio313.txt"
mkvenv py311-aio310 "$PY311" "$GEN/requirements-py311-aio310.txt"
mkvenv py313-aio311 "$PY313" "$GEN/requirements-py313-aio311.txt"
mkvenv py313-aio313 "$PY313" "$GEN/requirements-py313-aio313.txt"
mkvenv py312-litellm172 "$PY312" "$GEN/requirements-py312-litellm172.txt"
mkvenv py313-litellm174 "$PY313" "$GEN/requirements-py313-litellm174.txt"
mkvenv py313-libs "$PY313" "$GEN/requirements-py313-libs.txt"
mkvenv py312-cloud "$PY312" "$GEN/requirements-py312-cloud.txt"
mkvenv py311-sentry "$PY311" "$GEN/requirements-py311-sentry.txt"

HA_NAMES=() OTHER=()
for a in "$@"; do
  case "$a" in homeassistant_*) HA_NAMES+=("$a") ;; *) OTHER+=("$a") ;; esac
done

cd "$SAMPLES/.."
if [[ $# -eq 0 || ${#OTHER[@]} -gt 0 ]]; then
  "$VENVS/py312-aio313/bin/python" "$GEN/run_fixtures.py" "$VENVS" "${OTHER[@]}"
fi
if [[ "${HA:-}" == 1 || ${#HA_NAMES[@]} -gt 0 ]]; then
  # Home Assistant 2025.4.4 is the newest release whose Requires-Python admits 3.13.0;
  # the file pins what its own package_constraints.txt allowed (unpinned, pip backtracks
  # for a long time through habluetooth / bluetooth-data-tools sdists)
  mkvenv ha-py313 "$PY313" "$GEN/requirements-ha-py313.txt"
  "$VENVS/py312-aio313/bin/python" "$GEN/homeassistant/run_ha.py" "$VENVS" "${HA_NAMES[@]}"
fi
"$VENVS/py312-aio313/bin/python" "$GEN/verify.py"
