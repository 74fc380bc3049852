#!/usr/bin/env bash
# Packaging smoke test: build, npm pack, install the tarball into an empty folder, import
# every subpath export and run `ballast --help`, as a user installing the package would.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

npm run build --silent -w ballast
tarball=$(cd "$root/packages/ballast" && npm pack --silent --pack-destination "$work" | tail -n1)
cd "$work"
npm init -y >/dev/null
npm pkg set type=module >/dev/null
npm install --silent --no-audit --no-fund "./$tarball" >/dev/null

subpaths=$(node -e '
  const pkg = require("./node_modules/ballast/package.json");
  console.log(Object.keys(pkg.exports).filter((k) => !k.includes("*") && !k.endsWith(".json")).map((k) => k === "." ? "ballast" : "ballast/" + k.slice(2)).join(" "));
')
for spec in $subpaths; do
  node --input-type=module -e "const m = await import('$spec'); if (Object.keys(m).length === 0) { console.error('$spec exports nothing'); process.exit(1); }"
  echo "pack-smoke: import $spec ok"
done
node_modules/.bin/ballast --help >/dev/null
echo "pack-smoke: ballast --help ok ($tarball)"
