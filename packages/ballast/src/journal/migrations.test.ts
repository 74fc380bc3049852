import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../canonical.ts";
import { latestVersion, migrate, SQLITE_MIGRATIONS, schemaVersion } from "./migrations.ts";
import { openSqliteJournal } from "./sqlite-journal.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ballast-migrations-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const tables = (db: DatabaseSync) =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);

describe("migrations", () => {
  it("creates the schema on a fresh database and records its version", () => {
    const db = new DatabaseSync(join(dir, "a.db"));
    expect(schemaVersion(db)).toBe(0);
    const result = migrate(db, "a.db");
    expect(result.from).toBe(0);
    expect(result.to).toBe(latestVersion());
    expect(result.applied.map((m) => m.version)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(tables(db)).toEqual(
      expect.arrayContaining([
        "events",
        "runs",
        "runs_status_created",
        "runs_workflow_created",
        "schema_migrations",
      ]),
    );
    expect(schemaVersion(db)).toBe(latestVersion());
    db.close();
  });

  it("is a no-op on re-open", async () => {
    const path = join(dir, "b.db");
    const first = await openSqliteJournal({ path, blobDir: dir });
    await first.createRun({ id: "r", workflow: "w", workflowVersion: "1", input: 1 });
    await first.close();
    const second = await openSqliteJournal({ path, blobDir: dir });
    expect(await second.getRun("r")).toBeDefined();
    await second.close();
    const db = new DatabaseSync(path);
    expect(migrate(db, path).applied).toEqual([]);
    expect((db.prepare("SELECT count(*) AS n FROM schema_migrations").get() as { n: number }).n).toBe(
      SQLITE_MIGRATIONS.length,
    );
    db.close();
  });

  it("applies only the pending ones, in version order", () => {
    const db = new DatabaseSync(join(dir, "c.db"));
    migrate(db, "c.db");
    const next = [
      ...SQLITE_MIGRATIONS,
      { version: latestVersion() + 2, name: "third", sql: "CREATE TABLE third (x)" },
      { version: latestVersion() + 1, name: "second", sql: "CREATE TABLE second (x)" },
    ];
    expect(migrate(db, "c.db", next).applied.map((m) => m.name)).toEqual(["second", "third"]);
    expect(schemaVersion(db)).toBe(latestVersion() + 2);
    db.close();
  });

  it("rolls back a failing migration entirely", () => {
    const db = new DatabaseSync(join(dir, "d.db"));
    const broken = [
      ...SQLITE_MIGRATIONS,
      { version: latestVersion() + 1, name: "broken", sql: "CREATE TABLE ok (x); NOT SQL" },
    ];
    expect(() => migrate(db, "d.db", broken)).toThrow();
    expect(schemaVersion(db)).toBe(0);
    expect(tables(db)).toEqual([]);
    db.close();
  });

  it("refuses a database from a newer ballast and changes nothing", async () => {
    const path = join(dir, "e.db");
    const journal = await openSqliteJournal({ path, blobDir: dir });
    await journal.close();
    const raw = new DatabaseSync(path);
    raw.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')").run();
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    raw.close();
    const before = sha256Hex(readFileSync(path));

    await expect(openSqliteJournal({ path, blobDir: dir })).rejects.toMatchObject({
      code: "schema_too_new",
      message: expect.stringMatching(/version 99.*upgrade ballast/s),
    });
    expect(sha256Hex(readFileSync(path))).toBe(before);
    const check = new DatabaseSync(path);
    expect(schemaVersion(check)).toBe(99);
    expect(() => migrate(check, path)).toThrow(/upgrade ballast/);
    check.close();
    expect(sha256Hex(readFileSync(path))).toBe(before);
  });
});
