import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT } from "../src/cli/exit-codes.ts";
import { migrateJsonl, migrateRecord, migrationPath } from "../src/migrate/schema-migration.ts";
import { cli, readJsonl, type Workspace, workspace } from "./helpers.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/evolutions-1.0.jsonl", import.meta.url));

let ws: Workspace;
afterEach(() => ws?.remove());

describe("migrate --from 1.0 --to 1.1", () => {
  it("keeps record order and metadata, and renames what 1.1 renamed", () => {
    const out = migrateJsonl(readFileSync(FIXTURE, "utf8"), "1.0", "1.1");
    interface Feature {
      score: Record<string, unknown>;
    }
    interface Rec {
      service: { id: string };
      plateaus: (Record<string, unknown> & { features: Feature[] })[];
    }
    const lines = out.trim().split("\n");
    const header = JSON.parse(lines[0] as string) as Record<string, unknown>;
    const first = JSON.parse(lines[1] as string) as Rec;
    const second = JSON.parse(lines[2] as string) as Rec;
    expect(lines).toHaveLength(3);
    expect(header).toEqual({
      type: "header",
      schema_version: "1.1",
      migrated_from: "1.0",
      generator: "service-ambitions 0.9.2",
      git_sha: "4f2c0de1b2a3c4d5e6f708192a3b4c5d6e7f8091",
      seed: 42,
      settings: { model: "openai:o4-mini", concurrency: 4 },
      created_by: "nightly-batch",
    });
    expect(first.service.id).toBe("svc-gov-vehicle-licensing");
    expect(second.service.id).toBe("svc-bank-sme-lending");
    expect(first).toMatchObject({
      type: "service",
      schema_version: "1.1",
      meta: { batch: "2024-11-03" },
      models: [],
    });
    const plateau = first.plateaus[0];
    expect(plateau).toMatchObject({
      level: 1,
      name: "Foundational",
      description: "Licences are renewed on paper and by phone.",
    });
    expect(plateau).not.toHaveProperty("plateau_name");
    expect(plateau?.features[0]).toEqual({
      feature_id: "FEAT-1-citizen-a",
      customer_type: "citizen",
      name: "Online renewal form",
      description: "Citizens renew a vehicle licence through an online form.",
      review: "approved",
      score: { level: 2, label: "Managed", justification: "Migrated from schema 1.0 score 0.35." },
      mappings: {
        applications: [{ id: "APP-002", name: "Digital Forms Builder" }],
        technologies: [{ id: "TEC-028", name: "TEC-028" }],
        information: [{ id: "INF-022", name: "Vehicle Record", confidence: 0.9 }],
      },
    });
    expect(second.plateaus[0]?.features[0]?.score).toMatchObject({ level: 5, label: "Optimising" });
  });

  it("is deterministic, and a migrated record is left alone by a no-op path", () => {
    const text = readFileSync(FIXTURE, "utf8");
    const a = migrateJsonl(text, "1.0", "1.1");
    expect(migrateJsonl(text, "1.0", "1.1")).toBe(a);
    expect(migrationPath("1.1", "1.1")).toEqual([]);
    expect(migrateRecord({ type: "header", schema_version: "1.1" }, "1.1", "1.1")).toEqual({
      type: "header",
      schema_version: "1.1",
    });
  });

  it("runs from the CLI, and rejects unknown versions and broken records with exit 2", async () => {
    ws = workspace();
    const out1 = join(ws.dir, "a.jsonl");
    const out2 = join(ws.dir, "b.jsonl");
    const first = await cli([
      "migrate",
      "--from",
      "1.0",
      "--to",
      "1.1",
      "--input",
      FIXTURE,
      "--output",
      out1,
    ]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^migrated 3 records from 1.0 to 1.1/);
    await cli(["migrate", "--from", "1.0", "--to", "1.1", "--input", FIXTURE, "--output", out2]);
    expect(readFileSync(out2)).toEqual(readFileSync(out1));
    expect(readJsonl(out1)).toHaveLength(3);

    const unknown = await cli([
      "migrate",
      "--from",
      "0.9",
      "--to",
      "1.1",
      "--input",
      FIXTURE,
      "--output",
      out2,
    ]);
    expect(unknown.code).toBe(EXIT.usage);
    expect(JSON.parse(unknown.err)).toMatchObject({ code: "migration_unsupported" });

    const broken = join(ws.dir, "broken.jsonl");
    writeFileSync(
      broken,
      '{"service":{"id":"x"},"plateaus":[{"plateau":1,"features":[{"score":7}]}]}\nnot json\n',
    );
    const bad = await cli(["migrate", "--from", "1.0", "--to", "1.1", "--input", broken, "--output", out2]);
    expect(bad.code).toBe(EXIT.usage);
    expect(JSON.parse(bad.err).message).toContain(
      "line 1.plateaus[0].features[0].score: score must be a number in [0, 1]",
    );
    const missing = await cli([
      "migrate",
      "--from",
      "1.0",
      "--to",
      "1.1",
      "--input",
      join(ws.dir, "nope"),
      "--output",
      out2,
    ]);
    expect(missing.code).toBe(EXIT.usage);
    expect((await cli(["migrate", "--from", "1.0"])).code).toBe(EXIT.usage);
  });
});
