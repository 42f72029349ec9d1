#!/usr/bin/env bash
# The epmgr demo: everything on this machine, no token, no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
EPMGR=.venv/bin/epmgr
DEMO_DIR=${EPMGR_DEMO_DIR:-.demo}
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
export EPMGR_DB_URL="sqlite:///$PWD/$DEMO_DIR/ledger.db"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "Create the ledger (SQLite) and apply its migrations" $EPMGR db upgrade
step "The ledger's schema revision" $EPMGR db current
