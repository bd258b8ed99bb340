#!/usr/bin/env bash
# Install mne-dyad into a virtual environment and run the demo or the tests.
#
#   bash tools/setup.sh demo [demo options]   # install, then `mne-dyad demo`
#   bash tools/setup.sh test [pytest options] # install with test extras, then the test suite
#   bash tools/setup.sh test-oldest [pytest options]
#       # CI's "oldest" lane: the oldest supported Python, every dependency at the lower
#       # bound pyproject.toml declares (tools/oldest-constraints.txt), the suite without
#       # the docs build, the Chromium tests, the gallery's scripts and the heavy tests
#       # (pytest -m "not docs and not examples and not heavy": many refits or whole CLI
#       # runs, whose code paths cheaper tests also run; CI's newest lane runs them);
#       # environment .venv-oldest
#
# Finds a Python >= 3.12 by itself ($PYTHON, python3.x on PATH, pyenv, /usr/local).
# The environment lives in .venv next to this repository (override: MNE_DYAD_VENV).
# MNE_DYAD_FRESH=1 starts from a new environment (CI does). The script says so before it
# deletes an environment, and names every system package it installs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-}"
shift || true
case "$mode" in
  demo|test|test-oldest) ;;
  *) echo "usage: bash tools/setup.sh {demo|test|test-oldest} [options]" >&2; exit 2 ;;
esac

ok_python() {  # true if $1 runs and is Python >= 3.12
  "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {  # newest first; the oldest lane wants the oldest supported Python
  local c names="python3.14 python3.13 python3.12 python3 python" order="-rV"
  [ "$mode" = test-oldest ] && names="python3.12 python3.13 python3.14 python3 python" order="-V"
  for c in "${PYTHON:-}" $names; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok_python "$(command -v "$c")" \
      && { command -v "$c"; return 0; }
  done
  for c in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 \
                  /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null | sort "$order"); do
    ok_python "$c" && { echo "$c"; return 0; }
  done
  return 1
}

remove_env() {  # remove_env DIR WHY: the only place this script deletes anything
  echo ">> removing the environment $1 ($2)"
  rm -rf "$1"
}

install_system_package() {  # install_system_package NAME WHY: Debian's package, said first
  echo ">> installing system package: $1 (apt-get), $2"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  echo ">>   with the packages it needs: $(apt-get install -s -y --no-install-recommends "$1" | awk '/^Inst /{printf "%s ", $2}')"
  apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

if [ "$mode" = test-oldest ]; then
  venv="${MNE_DYAD_VENV:-$here/.venv-oldest}"
else
  venv="${MNE_DYAD_VENV:-$here/.venv}"
fi
if [ -e "$venv" ] && [ "${MNE_DYAD_FRESH:-0}" = 1 ]; then
  remove_env "$venv" "MNE_DYAD_FRESH=1 asks for a new one"
fi
if [ ! -x "$venv/bin/python" ] || ! ok_python "$venv/bin/python"; then
  py="$(find_python)" || {
    echo "mne-dyad needs Python >= 3.12 and none was found. Install one (for example" >&2
    echo "'pyenv install 3.12' or your system's python3.12 package) or set PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  if [ -e "$venv" ]; then
    remove_env "$venv" "it has no working Python >= 3.12"
  fi
  echo ">> creating $venv with $py ($("$py" --version 2>&1))"
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
cd "$here"
export MPLBACKEND=Agg
if [ "$mode" = test-oldest ]; then
  echo ">> installing mne-dyad[test] at the lower bounds of tools/oldest-constraints.txt"
  "${pip[@]}" install --quiet -c "$here/tools/oldest-constraints.txt" -e "$here[test]"
  echo ">> pytest -m \"not docs and not examples and not heavy\" (oldest releases: no docs build, no Chromium, no gallery, no heavy refits)"
  exec "$venv/bin/python" -m pytest -m "not docs and not examples and not heavy" "$@"
fi
echo ">> installing mne-dyad with its test and docs extras"
"${pip[@]}" install --quiet -e "$here[test,docs]"
# The docs tests open pages in headless Chromium: Debian's package, when we can install it.
if [ -z "${MNE_DYAD_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    install_system_package chromium "for the tests that render the docs and a report"
  else
    echo ">> warning: no chromium; the rendering tests will fail. Install Debian's" >&2
    echo "   'chromium' package or set MNE_DYAD_CHROMIUM=/path/to/chromium." >&2
  fi
fi
echo ">> pytest"
exec "$venv/bin/python" -m pytest "$@"
