#!/usr/bin/env bash
# Regenerates every fixture in samples/logs/ from real runs.
#   bash samples/gen/generate.sh            # all fixtures
#   bash samples/gen/generate.sh NAME ...   # only these fixtures
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

cd "$SAMPLES/.."
"$VENVS/py312-aio313/bin/python" "$GEN/run_fixtures.py" "$VENVS" "$@"
"$VENVS/py312-aio313/bin/python" "$GEN/verify.py"
