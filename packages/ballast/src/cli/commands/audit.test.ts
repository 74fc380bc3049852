import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AuditLog } from "../../guard/audit-log.ts";
import { registerAuditCommand } from "./audit.ts";

let home: string;
let out: string[];

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ballast-audit-cli-"));
  out = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  process.exitCode = undefined;
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  rmSync(home, { recursive: true, force: true });
});

async function run(...args: string[]): Promise<string> {
  const program = new Command("ballast").option("--json").option("--home <dir>").exitOverride();
  registerAuditCommand(program);
  await program.parseAsync(["node", "ballast", "--home", home, ...args]);
  return out.join("");
}

function seed(n: number, now?: () => Date): void {
  const log = AuditLog.open({ home, env: {}, ...(now === undefined ? {} : { now }) });
  for (let i = 0; i < n; i++) {
    log.append({
      kind: "security.deny",
      subject: `u${i}`,
      action: "runs.read",
      resource: "acme:runs/1",
      tenant: "acme",
      reason: "deny:default",
    });
  }
  log.close();
}

describe("ballast audit", () => {
  it("verify prints ok for an intact chain, as text and as JSON", async () => {
    seed(3);
    expect(await run("audit", "verify")).toMatch(/^ok: 3 record\(s\) checked \(records 1-3\)/);
    out = [];
    const report = JSON.parse(await run("audit", "verify", "--json"));
    expect(report).toMatchObject({ ok: true, checked: 3, problems: [] });
    expect(process.exitCode).toBeUndefined();
  });

  it("verify reports tampering and exits 1", async () => {
    seed(3);
    const db = new DatabaseSync(join(home, "ballast.db"));
    db.exec(
      "DROP TRIGGER audit_events_no_update; UPDATE audit_events SET body = replace(body, 'u1', 'u7') WHERE seq = 2",
    );
    db.close();
    const text = await run("audit", "verify");
    expect(text).toMatch(/^TAMPERED/);
    expect(text).toMatch(/record 2: hash_mismatch/);
    expect(process.exitCode).toBe(1);
  });

  it("verify works on an empty log", async () => {
    expect(await run("audit", "verify", "--no-archives")).toMatch(/ok: 0 record\(s\) checked \(no records\)/);
  });

  it("archive moves old records and list shows what is left", async () => {
    seed(2, () => new Date("2020-01-01T00:00:00Z"));
    expect(await run("audit", "archive", "--ttl-days", "30")).toMatch(/archived 2 record\(s\) \(1-2\)/);
    out = [];
    expect(await run("audit", "archive", "--ttl-days", "30")).toMatch(/nothing older than 30/);
    out = [];
    const listed = await run("audit", "list", "--kind", "audit.archived");
    expect(listed).toMatch(/audit\.archived/);
    out = [];
    const json = JSON.parse(await run("--json", "audit", "list", "--tenant", "acme", "--limit", "5"));
    expect(json).toEqual([]);
    out = [];
    expect(JSON.parse(await run("audit", "verify", "--json")).archivedChecked).toBe(2);
  });

  it("archive without a retention period says what to do", async () => {
    const previous = process.env["BALLAST_AUDIT_TTL_DAYS"];
    delete process.env["BALLAST_AUDIT_TTL_DAYS"];
    await expect(run("audit", "archive")).rejects.toThrow(/--ttl-days/);
    if (previous !== undefined) process.env["BALLAST_AUDIT_TTL_DAYS"] = previous;
  });

  it("list filters by trace id and time", async () => {
    seed(1);
    expect(
      JSON.parse(
        await run("audit", "list", "--json", "--trace-id", "none", "--since", "2000-01-01T00:00:00Z"),
      ),
    ).toEqual([]);
  });
});
