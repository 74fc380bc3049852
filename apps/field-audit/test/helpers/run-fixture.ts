import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { type GroundTruth, generateRun } from "../../src/generator/generate-run.ts";

/**
 * A small generated run for tests: 60 frames at 2 fps (30 m of corridor, 3 anomalies),
 * 160x120 camera and 80x60 depth, so a test file pays well under a second for it. Each
 * call makes a fresh copy in its own temp dir, removed after the file's tests.
 */

const made: string[] = [];

afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix = "field-audit-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function smallRun(
  seed = 3,
  frames = 60,
): Promise<{ dir: string; truth: GroundTruth; root: string }> {
  const root = tempDir();
  const dir = join(root, "run");
  const truth = await generateRun(dir, {
    seed,
    frames,
    fps: 2,
    eventSpacing: 6,
    rgb: { width: 160, height: 120 },
    depth: { width: 80, height: 60 },
  });
  return { dir, truth, root };
}
