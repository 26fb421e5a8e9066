#!/usr/bin/env bash
# `stint demo` and the unit tests (*.test.ts that are not .int. or .e2e.) on
# Node 24, installed from the npm registry's `node` package. scripts/test.sh
# runs it after the suite (with the test servers' environment); it also runs
# on its own. Needs dist/ built (npm run build).
#
# better-sqlite3 is a native module built for one Node ABI, so Node 24 gets a
# tree of its own without touching node_modules: a folder of symlinks to every
# package in node_modules except better-sqlite3, which is a copy compiled for
# Node 24 (node-gyp, against the headers the `node` package ships). Node and
# the copy are cached under ~/.cache/stint (by Node and better-sqlite3
# version), so only the first run downloads and compiles; delete that folder
# to take a newer Node 24. The sources run from a copy of the checkout whose
# node_modules is that tree (Node resolves packages from a file's own folder).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
major=${STINT_ALT_NODE_MAJOR:-24}
started=$(date +%s)

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/stint
node_home=$cache_root/node-$major
node_bin=$node_home/node_modules/node/bin/node
if [ ! -x "$node_bin" ]; then
  echo "== installing Node $major from the npm registry (the node package; once, into $node_home)"
  rm -rf "$node_home.tmp" && mkdir -p "$node_home.tmp"
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$node_home.tmp" "node@$major" >/dev/null
  rm -rf "$node_home" && mv "$node_home.tmp" "$node_home"
fi
node_version=$("$node_bin" -p 'process.versions.node')
# The package ships Node's C headers, which node-gyp compiles native modules against.
headers=$(find "$node_home/node_modules" -maxdepth 7 -path '*/include/node/node_version.h' -print -quit)
[ -n "$headers" ] || { echo "the node@$major package in $node_home has no C headers" >&2; exit 1; }
nodedir=$(cd "$(dirname "$headers")/../.." && pwd)
echo "== Node $node_version ($node_bin)"

bs_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
cache=$cache_root/better-sqlite3-$bs_version-node-$node_version
built=$cache/node_modules/better-sqlite3
if [ ! -f "$built/build/Release/better_sqlite3.node" ]; then
  echo "== compiling better-sqlite3 $bs_version for Node $node_version (once; cached in $cache)"
  node_gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
  rm -rf "$built.tmp"
  mkdir -p "$cache/node_modules"
  cp -r node_modules/better-sqlite3 "$built.tmp"
  rm -rf "$built.tmp/build"
  (cd "$built.tmp" && "$node_bin" "$node_gyp" rebuild --release --nodedir="$nodedir" -j 2 >"$cache/build.log" 2>&1) || { cat "$cache/build.log" >&2; exit 1; }
  rm -rf "$built" && mv "$built.tmp" "$built"
fi
# Node resolves a module from its real path, so the copy's own dependencies (pure JavaScript) sit beside it.
for dep in bindings file-uri-to-path; do ln -sfn "$repo/node_modules/$dep" "$cache/node_modules/$dep"; done

work=$(mktemp -d /tmp/stint-node$major-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/node_modules"
for entry in node_modules/* node_modules/.bin; do
  name=$(basename "$entry")
  [ "$name" = better-sqlite3 ] || ln -s "$repo/$entry" "$work/node_modules/$name"
done
ln -s "$built" "$work/node_modules/better-sqlite3"
# The checkout's files (not node_modules, not .git), so paths relative to a module (dist/, web/dist, examples/) hold.
tar -C "$repo" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$work" -xf -
echo "== Node $node_version tree ready ($(( $(date +%s) - started ))s)"

cd "$work"
"$node_bin" -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

echo "== stint demo on Node $node_version"
"$node_bin" bin/stint.js demo >"$work/demo.log" 2>&1 || { cat "$work/demo.log" >&2; echo "stint demo failed on Node $node_version" >&2; exit 1; }
tail -n 1 "$work/demo.log"

echo "== unit tests on Node $node_version"
mapfile -t files < <(find src scripts bench -name '*.test.ts' ! -name '*.int.test.ts' ! -name '*.e2e.test.ts' 2>/dev/null | sort)
"$node_bin" --import tsx --test --test-concurrency="${STINT_TEST_CONCURRENCY:-4}" "${files[@]}"
echo "== Node $node_version: demo and ${#files[@]} unit test files in $(( $(date +%s) - started ))s"
