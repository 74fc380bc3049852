import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openJournal } from "./index.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-open-"));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe("openJournal", () => {
  it("opens the SQLite journal in the ballast home", async () => {
    vi.stubEnv("BALLAST_DATABASE_URL", "");
    vi.stubEnv("BALLAST_HOME", join(dir, "home"));
    const journal = await openJournal();
    expect(journal.backend).toBe("sqlite");
    expect(journal.durability).toBe("full");
    await journal.createRun({ id: "r", workflow: "w", workflowVersion: "1", input: null });
    await journal.close();
    expect(existsSync(join(dir, "home", "ballast.db"))).toBe(true);
    const normal = await openJournal({ home: join(dir, "home"), durability: "normal" });
    expect(normal.durability).toBe("normal");
    expect(await normal.getRun("r")).toBeDefined();
    await normal.close();
  });

  it("says clearly that the Postgres backend is not in this build", async () => {
    vi.stubEnv("BALLAST_DATABASE_URL", "postgres://localhost/ballast");
    await expect(openJournal({ home: dir })).rejects.toMatchObject({
      code: "postgres_unavailable",
      message: expect.stringContaining("not in this build"),
    });
  });
});
