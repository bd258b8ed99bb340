#!/usr/bin/env bash
# Install mne-dyad into a virtual environment and run the demo or the tests.
#
#   bash tools/setup.sh demo [demo options]   # install, then `mne-dyad demo`
#   bash tools/setup.sh test [pytest options] # install with test extras, then the test suite
#
# Finds a Python >= 3.12 by itself ($PYTHON, python3.x on PATH, pyenv, /usr/local).
# The environment lives in .venv next to this repository (override: MNE_DYAD_VENV).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-}"
shift || true
case "$mode" in
  demo|test) ;;
  *) echo "usage: bash tools/setup.sh {demo|test} [options]" >&2; exit 2 ;;
esac

ok_python() {  # true if $1 runs and is Python >= 3.12
  "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local c
  for c in "${PYTHON:-}" python3.14 python3.13 python3.12 python3 python; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok_python "$(command -v "$c")" \
      && { command -v "$c"; return 0; }
  done
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
                  /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null | sort -rV); do
    ok_python "$c" && { echo "$c"; return 0; }
  done
  return 1
}

venv="${MNE_DYAD_VENV:-$here/.venv}"
if [ ! -x "$venv/bin/python" ] || ! ok_python "$venv/bin/python"; then
  py="$(find_python)" || {
    echo "mne-dyad needs Python >= 3.12 and none was found. Install one (for example" >&2
    echo "'pyenv install 3.12' or your system's python3.12 package) or set PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  echo ">> creating $venv with $py ($("$py" --version 2>&1))"
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install --quiet --upgrade pip
if [ "$mode" = demo ]; then
  echo ">> installing mne-dyad"
  "${pip[@]}" install --quiet -e "$here"
  echo ">> mne-dyad demo $*"
  exec "$venv/bin/mne-dyad" demo "$@"
fi
echo ">> installing mne-dyad with its test extras"
"${pip[@]}" install --quiet -e "$here[test]"
# The docs tests open pages in headless Chromium: Debian's package, when we can install it.
if [ -z "${MNE_DYAD_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo ">> installing chromium (apt-get) for the rendering tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo ">> warning: no chromium; the rendering tests will fail. Install Debian's" >&2
    echo "   'chromium' package or set MNE_DYAD_CHROMIUM=/path/to/chromium." >&2
  fi
fi
cd "$here"
echo ">> pytest"
export MPLBACKEND=Agg
exec "$venv/bin/python" -m pytest "$@"
