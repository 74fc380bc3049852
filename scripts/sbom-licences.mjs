// Writes a CycloneDX SBOM of the production dependencies and fails on any licence outside
// the allowlist (permissive licences only; the product must stay Apache-2.0-compatible).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";

const ALLOWED = new Set([
  "MIT",
  "MIT-0",
  "ISC",
  "Apache-2.0",
  "BSD-2-Clause",
  "BSD-3-Clause",
  "0BSD",
  "BlueOak-1.0.0",
  "CC0-1.0",
  "CC-BY-4.0",
  "Unlicense",
  "Python-2.0",
  "Zlib",
  "WTFPL",
]);
mkdirSync("test-output", { recursive: true });
const out = "test-output/sbom.cdx.json";
execFileSync(
  "npx",
  [
    "cyclonedx-npm",
    "--omit",
    "dev",
    "--workspace",
    "ballast",
    "--output-format",
    "JSON",
    "--output-file",
    out,
    "--flatten-components",
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);
const sbom = JSON.parse(readFileSync(out, "utf8"));
// An SPDX expression is allowed when one of its OR alternatives has every AND term allowed.
const allowedExpression = (expression) =>
  expression
    .replace(/[()]/g, "")
    .split(/\s+OR\s+/)
    .some((alternative) => alternative.split(/\s+AND\s+/).every((id) => ALLOWED.has(id.trim())));
const bad = [];
for (const c of sbom.components ?? []) {
  const licences = (c.licenses ?? []).map((l) => l.license?.id ?? l.license?.name ?? l.expression ?? "");
  if (licences.length === 0 || !licences.some((l) => l !== "" && allowedExpression(l))) {
    bad.push(`${c.name}@${c.version}: ${licences.join(", ") || "no licence"}`);
  }
}
writeFileSync(
  "test-output/licences.txt",
  `${(sbom.components ?? []).length} components\n${bad.join("\n")}\n`,
);
if (bad.length > 0) {
  console.error(`Licences outside the allowlist (scripts/sbom-licences.mjs):\n${bad.join("\n")}`);
  process.exit(1);
}
console.log(`sbom: ${(sbom.components ?? []).length} components, all licences allowed -> ${out}`);
