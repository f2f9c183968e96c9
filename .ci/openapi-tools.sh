# Sourced by .ci/run before the tests: the tools of the API contract tests
# (crates/cli/tests/it/api_contract.rs). Idempotent and quiet; runs as root without a terminal.
# Python tools pinned in clients/python/requirements.txt, in a venv; node tools from
# clients/typescript/package-lock.json with `npm ci`. Nothing but Debian, PyPI and npm is reached.

custos_py="${CUSTOS_PY_VENV:-$HOME/.cache/custos-py}"
custos_py_req="clients/python/requirements.txt"

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
# A venv made from another requirements file is remade; the stamp records which.
if [ ! -x "$custos_py/bin/schemathesis" ] || ! cmp -s "$custos_py_req" "$custos_py/.requirements"; then
  rm -rf "$custos_py"
  python3 -m venv "$custos_py"
  "$custos_py/bin/pip" install --quiet --disable-pip-version-check -r "$custos_py_req"
  cp "$custos_py_req" "$custos_py/.requirements"
fi
export CUSTOS_PY_BIN="$custos_py/bin"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
# --ignore-scripts: no package may fetch anything (a browser, a binary) at install time.
# The stamp records which lock file node_modules was installed from.
if ! cmp -s clients/typescript/package-lock.json clients/typescript/node_modules/.custos-lock 2>/dev/null; then
  (cd clients/typescript && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null \
    && cp package-lock.json node_modules/.custos-lock)
fi
