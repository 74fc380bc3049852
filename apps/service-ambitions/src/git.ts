import { execFileSync } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The git commit of the code that runs (for the output header), or null outside a
 * repository or without git. Looked up next to this file, not in the caller's cwd.
 */
let cached: string | null | undefined;

export function codeGitSha(): string | null {
  if (cached !== undefined) return cached;
  try {
    const out = execFileSync("git", ["rev-parse", "HEAD"], {
      cwd: dirname(fileURLToPath(import.meta.url)),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    }).trim();
    cached = /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    cached = null;
  }
  return cached;
}
