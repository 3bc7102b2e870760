#!/usr/bin/env bash
# The one test command: build, lint, start the real test services, run every test, stop services.
# Usage: npm test [-- FILE_OR_DIR_FILTER...]   (filters match compiled test file paths)
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build --silent
npx biome check .

scripts/services.sh start all
trap 'scripts/services.sh stop' EXIT
set -a
# shellcheck disable=SC1091
. .cache/services/services.env
set +a
unset STORAGE_EMULATOR_HOST
export KAFKAJS_NO_PARTITIONER_WARNING=1

mapfile -t files < <(find packages/*/dist test/dist -name '*.test.js' 2>/dev/null | sort)
if [ "$#" -gt 0 ]; then
  mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -F -e "$(printf '%s\n' "$@")")
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "no test files found" >&2
  exit 1
fi
node --test --test-concurrency="${BARGE_TEST_CONCURRENCY:-2}" --test-timeout=600000 --test-reporter=spec "${files[@]}"
# zstd (codec 3) round trips need a Node.js with zstd in zlib; the full run also runs them there.
if [ "$#" -eq 0 ]; then scripts/zstd-node.sh; fi
