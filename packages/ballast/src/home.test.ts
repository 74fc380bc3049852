import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { homeBlobDir, homeDatabasePath, resolveHome } from "./home.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-home-"));
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe("resolveHome", () => {
  it("uses an explicit home first and creates it with its blobs folder", () => {
    vi.stubEnv("BALLAST_HOME", join(dir, "ignored"));
    const home = resolveHome(join(dir, "explicit"));
    expect(home).toBe(join(dir, "explicit"));
    expect(existsSync(homeBlobDir(home))).toBe(true);
    expect(homeDatabasePath(home)).toBe(join(home, "ballast.db"));
    expect(existsSync(join(dir, "ignored"))).toBe(false);
  });

  it("falls back to $BALLAST_HOME, then ./.ballast, always absolute", () => {
    vi.stubEnv("BALLAST_HOME", join(dir, "from-env"));
    expect(resolveHome()).toBe(join(dir, "from-env"));
    vi.stubEnv("BALLAST_HOME", "");
    vi.spyOn(process, "cwd").mockReturnValue(dir);
    const home = resolveHome();
    expect(isAbsolute(home)).toBe(true);
    expect(home).toBe(join(dir, ".ballast"));
    expect(existsSync(home)).toBe(true);
  });
});
