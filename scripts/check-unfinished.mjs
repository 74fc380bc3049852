// Fails the build on unfinished work (TODO, FIXME, "not implemented", skipped or focused
// tests) unless `.unfinished-allowlist` lists the file and pattern with a reason:
//   path/to/file.ts | TODO | why it stays
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

const patterns = [
  { name: "TODO", re: /\bTODO\b/ },
  { name: "FIXME", re: /\bFIXME\b/ },
  { name: "not implemented", re: /not implemented/i },
  { name: "skipped test", re: /\b(it|test|describe)\.(skip|only|todo)\(|\bxit\(|\bxdescribe\(/ },
];
const allow = existsSync(".unfinished-allowlist")
  ? readFileSync(".unfinished-allowlist", "utf8")
      .split("\n")
      .filter((l) => l.trim() && !l.startsWith("#"))
      .map((l) => l.split("|").map((s) => s.trim()))
  : [];
for (const entry of allow) {
  if (entry.length < 3 || !entry[2]) {
    console.error(`.unfinished-allowlist: "${entry.join(" | ")}" needs a reason: path | pattern | reason`);
    process.exit(1);
  }
}
const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard"], {
  encoding: "utf8",
})
  .split("\n")
  .filter(
    (f) => /\.(ts|tsx|js|mjs|cjs|sh)$/.test(f) && f !== "scripts/check-unfinished.mjs" && existsSync(f),
  );
const findings = [];
for (const file of files) {
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    for (const p of patterns) {
      if (p.re.test(line) && !allow.some(([path, name]) => path === file && name === p.name)) {
        findings.push(`${file}:${i + 1}: ${p.name}: ${line.trim().slice(0, 120)}`);
      }
    }
  });
}
if (findings.length > 0) {
  console.error(
    `Unfinished work found (finish it, or list it in .unfinished-allowlist with a reason):\n${findings.join("\n")}`,
  );
  process.exit(1);
}
console.log(`check-unfinished: ${files.length} files clean`);
