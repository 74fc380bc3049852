import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { ownerAlive } from "./owner.ts";
import { openSqliteJournal, type SqliteJournal } from "./sqlite-journal.ts";

/** Only one process executes a run: claims, their renewal and their takeover. */

let dir: string;
let journal: SqliteJournal;
const me = { id: "engine-a", pid: process.pid, host: hostname() };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "ballast-claim-"));
  journal = await openSqliteJournal({ path: join(dir, "b.db"), blobDir: join(dir, "blobs") });
  await journal.createRun({ id: "r1", workflow: "w", workflowVersion: "1", input: null });
});

afterEach(async () => {
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
});

function sleeper(): ChildProcess {
  return spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
}

describe("run claims", () => {
  it("refuses a run another live process on this host holds, and takes it over once that process is killed", async () => {
    const other = sleeper();
    try {
      await journal.claimRun("r1", { id: "engine-b", pid: other.pid as number, host: hostname() }, 10_000);
      const refused = await journal.claimRun("r1", me, 10_000).catch((error: unknown) => error);
      expect(BallastError.hasCode(refused, "run_busy")).toBe(true);
      expect((refused as Error).message).toContain(`process ${other.pid}`);
    } finally {
      other.kill("SIGKILL");
      await new Promise((resolve) => other.once("exit", resolve));
    }
    await expect(journal.claimRun("r1", me, 10_000)).resolves.toBeUndefined();
  });

  it("judges an owner on another host by how recently it renewed its claim", async () => {
    const remote = { id: "engine-c", pid: 1, host: "elsewhere" };
    await journal.claimRun("r1", remote, 60_000);
    await expect(journal.claimRun("r1", me, 60_000)).rejects.toMatchObject({ code: "run_busy" });
    await journal.renewRun("r1", remote.id);
    expect(ownerAlive(remote, 59_000, 60_000)).toBe(true);
    expect(ownerAlive(remote, 61_000, 60_000)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await expect(journal.claimRun("r1", me, 1)).resolves.toBeUndefined(); // stale after 1 ms
  });

  it("renews and releases only the owner's own claim", async () => {
    await journal.claimRun("r1", { id: "engine-b", pid: 1, host: "elsewhere" }, 60_000);
    await journal.releaseRun("r1", me.id); // not ours: no effect
    await expect(journal.claimRun("r1", me, 60_000)).rejects.toMatchObject({ code: "run_busy" });
    await journal.releaseRun("r1", "engine-b");
    await expect(journal.claimRun("r1", me, 60_000)).resolves.toBeUndefined();
    await expect(journal.claimRun("missing", me, 60_000)).rejects.toMatchObject({ code: "run_not_found" });
  });
});
