#!/usr/bin/env bash
# Installs the pinned MLflow releases of scripts/test_mlflow_versions.txt (full `mlflow`, which
# `mlflow server` needs) with uv into cached venvs:
#   ${MLPROJECT_TEST_MLFLOW_VENVS:-$HOME/.cache/mlproject/test-mlflow}/<version>/bin/{python,mlflow}
# A venv whose `mlflow` already imports at the pinned version is kept. Installs uv with pip when
# it is missing. Interpreter: Python 3.12, 3.11 or 3.10 from PATH, pyenv or uv (uv installs 3.11
# when none is found). Versions install in parallel; each writes <root>/<version>.log.
# Exit status: 0 when every pinned venv works.
set -uo pipefail
cd "$(dirname "$0")/.."
root="${MLPROJECT_TEST_MLFLOW_VENVS:-$HOME/.cache/mlproject/test-mlflow}"
# Lines "<version> [extra requirement ...]"; comments start with #.
declare -A extras=()
versions=()
while read -r v rest; do
  case "$v" in "" | "#"*) continue ;; esac
  versions+=("$v")
  extras[$v]="$rest"
done <scripts/test_mlflow_versions.txt
mkdir -p "$root"

export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  echo "install_test_mlflow: installing uv with pip"
  python3 -m pip install --quiet --user uv 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages uv ||
    { echo "install_test_mlflow: could not install uv" >&2; exit 1; }
fi

works() { # version → 0 when the venv has the CLI, mlflow at that version, and its SQL store imports
  local dir="$root/$1"
  [ -x "$dir/bin/mlflow" ] &&
    "$dir/bin/python" -c "import sys, importlib.metadata as m
if m.version('mlflow') != '$1': sys.exit(1)
import mlflow.store.tracking.sqlalchemy_store, mlflow.server" >/dev/null 2>&1
}

find_python() { # prints a Python 3.10–3.12 interpreter
  local v p
  for v in 3.12 3.11 3.10; do
    p=$(command -v "python$v" 2>/dev/null) && "$p" -c '' 2>/dev/null && { echo "$p"; return; }
    for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python; do
      [ -x "$p" ] && { echo "$p"; return; }
    done
  done
  if p=$(command -v python3) && "$p" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
    echo "$p"; return
  fi
  for v in 3.12 3.11 3.10; do
    p=$(uv python find "$v" 2>/dev/null) && { echo "$p"; return; }
  done
  uv python install 3.11 >&2 && uv python find 3.11
}

todo=()
for v in "${versions[@]}"; do
  if works "$v"; then echo "install_test_mlflow: mlflow $v cached in $root/$v"; else todo+=("$v"); fi
done
if [ ${#todo[@]} -gt 0 ]; then
  python=$(find_python) || { echo "install_test_mlflow: no Python 3.10-3.12 found" >&2; exit 1; }
  echo "install_test_mlflow: installing mlflow ${todo[*]} with $python (logs: $root/<version>.log)"
  pids=()
  for v in "${todo[@]}"; do
    (
      rm -rf "$root/$v"
      uv venv --quiet --python "$python" "$root/$v" &&
        # shellcheck disable=SC2086 # the extras are words
        uv pip install --python "$root/$v/bin/python" "mlflow==$v" ${extras[$v]}
    ) >"$root/$v.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
fi
status=0
for v in "${versions[@]}"; do
  if works "$v"; then
    echo "install_test_mlflow: mlflow $v ok"
  else
    echo "install_test_mlflow: mlflow $v FAILED (see $root/$v.log)" >&2
    tail -n 5 "$root/$v.log" >&2 2>/dev/null
    status=1
  fi
done
exit $status
