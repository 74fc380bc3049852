import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT } from "../src/cli/exit-codes.ts";
import { MappingError, ProcessingError } from "../src/errors.ts";
import { contextOf } from "../src/offline/responder.ts";
import { cli, readJsonl, scriptedFactory, type Workspace, workspace } from "./helpers.ts";

let ws: Workspace;
afterEach(() => ws?.remove());

const PLANNING = "svc-gov-planning-permits";

/** Maps the planning service's first feature to an id no catalogue has, on every ask. */
function unknownIdFactory() {
  return scriptedFactory((intent, task) => {
    if (task !== "map") return undefined;
    const ctx = contextOf(intent.promptText);
    if (!ctx?.features?.[0]?.feature_id.startsWith(PLANNING)) return undefined;
    return {
      json: {
        mappings: ctx.features.map((f, i) => ({
          feature_id: f.feature_id,
          item_ids: i === 0 ? ["APP-999"] : [],
        })),
      },
    };
  });
}

/** Features for the planning service never validate. */
function invalidFeaturesFactory() {
  return scriptedFactory((intent, task) =>
    task === "features" && contextOf(intent.promptText)?.service?.id === PLANNING
      ? { json: { features: [] } }
      : undefined,
  );
}

describe("domain errors", () => {
  it("carry the service id and the stage", () => {
    const mapping = new MappingError({
      serviceId: "svc-a",
      stage: "mapping:applications",
      plateau: 2,
      message: "ids not in the catalogue: APP-999",
    });
    expect(mapping).toMatchObject({
      serviceId: "svc-a",
      stage: "mapping:applications",
      code: "mapping_failed",
    });
    expect(mapping.details).toMatchObject({ serviceId: "svc-a", stage: "mapping:applications", plateau: 2 });
    expect(mapping.message).toBe(
      "Service svc-a failed at stage mapping:applications (plateau 2): ids not in the catalogue: APP-999",
    );
    const processing = new ProcessingError({ serviceId: "svc-b", stage: "features", message: "no answer" });
    expect(processing).toMatchObject({ serviceId: "svc-b", stage: "features", code: "processing_failed" });
  });
});

describe("strict modes and exit codes", () => {
  it("--strict-mapping stops on an unknown catalogue id with exit 4 and one structured line", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const { factory, calls } = unknownIdFactory();
    const result = await cli(["run", ...ws.args, "--strict-mapping", "--run-id", "sm-1"], { factory });
    expect(result.code).toBe(EXIT.mapping);
    const lines = result.err.split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      error: "MappingError",
      code: "mapping_failed",
      service_id: PLANNING,
      stage: "mapping:applications",
      plateau: 1,
      exit_code: 4,
      run_id: "sm-1",
    });
    expect(lines[0]).toContain("APP-999");
    // Asked, then re-asked twice with the error.
    const asks = calls.filter(
      (c) =>
        c.promptText.includes(`"feature_id": "${PLANNING}.L1.`) &&
        c.promptText.includes(`"catalogue_kind": "applications"`),
    );
    expect(asks.filter((c) => c.promptText.includes("ids not in the catalogue: APP-999"))).toHaveLength(2);
    expect(existsSync(ws.output)).toBe(false);
    expect(existsSync(ws.quarantine)).toBe(false);

    // Same failure under --strict: also exit 4 (it is a mapping error).
    const strict = await cli(["run", ...ws.args, "--strict", "--cache", "off"], {
      factory: unknownIdFactory().factory,
    });
    expect(strict.code).toBe(EXIT.mapping);
  });

  it("--strict stops on a service that fails processing with exit 3; --strict-mapping quarantines it", async () => {
    ws = workspace({ services: 2, plateaus: 1 });
    const strict = await cli(["run", ...ws.args, "--strict"], { factory: invalidFeaturesFactory().factory });
    expect(strict.code).toBe(EXIT.processing);
    expect(JSON.parse(strict.err)).toMatchObject({
      error: "ProcessingError",
      code: "processing_failed",
      service_id: PLANNING,
      stage: "features",
      exit_code: 3,
    });
    const mappingOnly = await cli(["run", ...ws.args, "--strict-mapping", "--cache", "off"], {
      factory: invalidFeaturesFactory().factory,
    });
    expect(mappingOnly.code).toBe(EXIT.ok);
    expect(mappingOnly.out).toContain(`quarantine ${PLANNING}`);
  });

  it("an unmapped feature is fine by default and a missing mapping under --strict-mapping (exit 4)", async () => {
    ws = workspace({ services: 1, plateaus: 1 });
    // A catalogue that has nothing to do with the service: the model maps features to nothing.
    writeFileSync(
      join(ws.catalogues, "technologies.json"),
      JSON.stringify([
        {
          id: "TEC-900",
          name: "Quantum annealer",
          description: "Optimisation hardware for lattice problems.",
        },
      ]),
    );
    const relaxed = await cli(["run", ...ws.args]);
    expect(relaxed.code).toBe(EXIT.ok);
    expect(relaxed.out).toMatch(/\(6 feature\/catalogue pairs with no item\)/);
    const strict = await cli(["run", ...ws.args, "--strict-mapping"]);
    expect(strict.code).toBe(EXIT.mapping);
    expect(JSON.parse(strict.err)).toMatchObject({
      code: "mapping_failed",
      stage: "mapping:technologies",
      service_id: "svc-gov-vehicle-licensing",
    });
    expect(strict.err).toContain("is mapped to no catalogue item");
  });
});

describe("stage timeouts", () => {
  it("abort a hung stage and quarantine the service; the run goes on", async () => {
    ws = workspace({ services: 2, plateaus: 1 });
    const config = join(ws.dir, "settings.json");
    writeFileSync(config, JSON.stringify({ stageTimeoutSeconds: { descriptions: 0.05 } }));
    const { factory } = scriptedFactory(() => undefined, { latencyMs: 400 });
    const run = await cli(["run", ...ws.args, "--config", config], { factory });
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(/\(0 completed, 2 quarantined/);
    const ls = await cli(["quarantine", "ls", "--dir", ws.quarantine]);
    expect(ls.out).toMatch(/svc-gov-vehicle-licensing\s+descriptions\s+step_timeout/);
  });
});

describe("quarantine", () => {
  it("quarantines a failing record, goes on, and lists, shows and releases it", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const dir = ["--dir", ws.quarantine];
    const { factory } = unknownIdFactory();
    const run = await cli(["run", ...ws.args, "--run-id", "q-1", "--trace-ids"], { factory });
    expect(run.code).toBe(EXIT.ok);
    expect(run.out).toMatch(/services {3}2 \(1 completed, 1 quarantined/);
    expect(run.out).toContain(`${PLANNING}\tmapping:applications\t-\tmapping_unknown_ids\tlocal-`);
    const [header, ...records] = readJsonl(ws.output);
    expect(header).toMatchObject({ quarantined: [PLANNING], skipped: [] });
    expect(records).toHaveLength(1);

    const ls = await cli(["quarantine", "ls", ...dir]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(new RegExp(`${PLANNING}\\s+mapping:applications\\s+mapping_unknown_ids\\s+q-1`));
    const show = await cli(["quarantine", "show", PLANNING, ...dir]);
    const record = JSON.parse(show.out) as Record<string, unknown>;
    expect(record).toMatchObject({
      service_id: PLANNING,
      stage: "mapping:applications",
      plateau: 1,
      error: "MappingError",
      code: "mapping_unknown_ids",
      run_id: "q-1",
      asks: 3,
      service: { id: PLANNING },
    });
    expect(record["problems"]).toEqual([
      "ids not in the catalogue: APP-999",
      "ids not in the catalogue: APP-999",
      "ids not in the catalogue: APP-999",
    ]);
    expect((record["request_ids"] as string[]).length).toBe(3);

    // The next run skips it until it is released.
    const again = await cli([
      "run",
      ...ws.args,
      "--output",
      join(ws.dir, "again.jsonl"),
      "--quarantine-dir",
      ws.quarantine,
    ]);
    expect(again.out).toMatch(/\(1 completed, 0 quarantined, 1 skipped as quarantined\)/);
    expect(readJsonl(join(ws.dir, "again.jsonl"))[0]).toMatchObject({ skipped: [PLANNING] });

    const rm = await cli(["quarantine", "rm", PLANNING, ...dir]);
    expect(rm.out).toBe(`released ${PLANNING}: the next run processes it again, asking the models afresh`);
    expect((await cli(["quarantine", "ls", ...dir])).out).toBe("quarantine is empty");
    // The cache holds the rejected answers: a released record is asked afresh, once.
    const fixed = await cli(["run", ...ws.args, "--run-id", "q-fixed"]);
    expect(fixed.out).toMatch(/\(2 completed, 0 quarantined, 0 skipped/);
    expect(fixed.out).toMatch(/cache {6}12 hits of 26 model calls/);
    expect(existsSync(join(ws.quarantine, "released", `${PLANNING}.json`))).toBe(false);

    const missing = await cli(["quarantine", "show", PLANNING, ...dir]);
    expect(missing.code).toBe(EXIT.usage);
    expect(JSON.parse(missing.err)).toMatchObject({ code: "not_quarantined" });
    expect((await cli(["quarantine", "rm", "../etc", ...dir])).code).toBe(EXIT.usage);
  });
});
