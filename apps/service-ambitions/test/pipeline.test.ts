import { readFileSync } from "node:fs";
import { join } from "node:path";
import { openJournal } from "ballast";
import { afterEach, describe, expect, it } from "vitest";
import { cli, readJsonl, scriptedFactory, type Workspace, workspace } from "./helpers.ts";

let ws: Workspace;
afterEach(() => ws?.remove());

describe("service-ambitions run, end to end on a small sample", () => {
  it("writes a header and one record per service, with descriptions, features and mappings", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const result = await cli(["run", ...ws.args, "--run-id", "e2e-1", "--seed", "11"]);
    expect(result.err).toBe("");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/run e2e-1 completed/);
    expect(result.out).toMatch(/services {3}2 \(2 completed, 0 quarantined/);
    expect(result.out).toContain(
      `dashboard  npm run ballast -- serve --home ${ws.home}, then open http://127.0.0.1:7341/`,
    );
    expect(result.out).toContain(join(ws.home, "ballast.db"));

    const [header, ...records] = readJsonl(ws.output);
    expect(header).toMatchObject({
      type: "header",
      schema_version: "1.1",
      seed: 11,
      models: { descriptions: "local", features: "local", mapping: "local", local_priced_as: "gpt-4o-mini" },
      inputs: {
        services: 2,
        plateaus: 2,
        catalogues: { applications: 64, technologies: 50, information: 61 },
      },
      quarantined: [],
      skipped: [],
    });
    expect(header?.["git_sha"]).toMatch(/^[0-9a-f]{40}$/);
    expect(header?.["input_hash"]).toMatch(/^[0-9a-f]{64}$/);
    expect(header?.["settings"]).toMatchObject({ plateauConcurrency: 2, seed: 11 });
    expect(records.map((r) => (r["service"] as { id: string }).id)).toEqual([
      "svc-gov-vehicle-licensing",
      "svc-gov-planning-permits",
    ]);
    const first = records[0] as {
      plateaus: {
        level: number;
        description: string;
        features: {
          feature_id: string;
          customer_type: string;
          mappings: Record<string, { id: string; name: string }[]>;
        }[];
      }[];
    };
    expect(first.plateaus.map((p) => p.level)).toEqual([1, 2]);
    // 2 customer types x 3 features per plateau.
    expect(first.plateaus[0]?.features).toHaveLength(6);
    expect(first.plateaus[0]?.description).toContain("Vehicle Licensing");
    const feature = first.plateaus[1]?.features[0];
    expect(feature?.feature_id).toBe("svc-gov-vehicle-licensing.L2.citizen.01");
    const catalogue = JSON.parse(readFileSync(join(ws.catalogues, "applications.json"), "utf8")) as {
      id: string;
      name: string;
    }[];
    for (const item of feature?.mappings["applications"] ?? []) {
      expect(catalogue.find((c) => c.id === item.id)?.name).toBe(item.name);
    }
  });

  it("gives byte-identical output for the same seed and settings (second run served by the cache)", async () => {
    ws = workspace({ services: 2, plateaus: 2 });
    const first = await cli(["run", ...ws.args, "--run-id", "same-1"]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/cache {6}0 hits of 26 model calls/);
    const again = join(ws.dir, "again", "evolutions.jsonl");
    const second = await cli(["run", ...ws.args, "--output", again, "--run-id", "same-2"]);
    expect(second.code).toBe(0);
    expect(second.out).toMatch(/cache {6}26 hits of 26 model calls/);
    expect(second.out).toContain("cost       $0.000000");
    expect(readFileSync(again)).toEqual(readFileSync(ws.output));

    // Without the cache the models answer again, and the bytes are still the same.
    const third = join(ws.dir, "third", "evolutions.jsonl");
    const fresh = await cli(["run", ...ws.args, "--output", third, "--cache", "off", "--run-id", "same-3"]);
    expect(fresh.code).toBe(0);
    const [h1, ...body1] = readFileSync(ws.output, "utf8").split("\n");
    const [h3, ...body3] = readFileSync(third, "utf8").split("\n");
    expect(body3).toEqual(body1);
    // The header differs only in the settings snapshot (cache mode).
    expect(JSON.parse(h3 as string).settings.cache).toBe("off");
    expect({ ...JSON.parse(h3 as string), settings: null }).toEqual({
      ...JSON.parse(h1 as string),
      settings: null,
    });

    const other = join(ws.dir, "other", "evolutions.jsonl");
    expect((await cli(["run", ...ws.args, "--output", other, "--seed", "8"])).code).toBe(0);
    expect(readFileSync(other, "utf8")).not.toBe(readFileSync(ws.output, "utf8"));
  });

  it("journals every model call with its stage and service, and replays the run offline", async () => {
    ws = workspace({ services: 1, plateaus: 2 });
    expect((await cli(["run", ...ws.args, "--run-id", "journaled"])).code).toBe(0);
    const journal = await openJournal({ home: ws.home });
    const calls = (await journal.readEvents("journaled")).filter((e) => e.type === "model.called");
    await journal.close();
    // 2 plateaus x (1 description + 2 customer types + 3 catalogues).
    expect(calls).toHaveLength(12);
    expect(new Set(calls.map((e) => (e.data as { stage: string }).stage))).toEqual(
      new Set(["descriptions", "features", "mapping"]),
    );
    expect(calls.every((e) => (e.data as { item: string }).item === "svc-gov-vehicle-licensing")).toBe(true);

    expect(calls.every((e) => (e.data as { prompt?: string }).prompt === undefined)).toBe(true);
    expect(
      (await cli(["run", ...ws.args, "--run-id", "logged", "--log-prompts", "--cache", "off"])).code,
    ).toBe(0);
    const again = await openJournal({ home: ws.home });
    const logged = (await again.readEvents("logged")).find((e) => e.type === "model.called");
    await again.close();
    const transcript = (logged?.data as { prompt?: string } | undefined)?.prompt;
    expect(transcript).toContain("Vehicle Licensing");

    const replay = await cli(["replay", "journaled", "--home", ws.home]);
    expect(replay.code).toBe(0);
    expect(replay.out).toMatch(/output identical/);
    expect(replay.out).toMatch(/12 model calls served from the journal/);
    expect(replay.out).toMatch(/journal: verified/);

    const cost = await cli(["cost", "journaled", "--home", ws.home]);
    expect(cost.code).toBe(0);
    expect(cost.out).toMatch(/12 model calls, 0 cache hits/);
    expect(cost.out).toContain("svc-gov-vehicle-licensing");
  });

  it("re-asks an invalid answer with its validation error, within the bound", async () => {
    ws = workspace({ services: 1, plateaus: 1 });
    let broken = 0;
    const { factory, calls } = scriptedFactory((intent, task) => {
      if (task === "features" && !intent.promptText.includes("rejected") && broken++ === 0) {
        return { json: { features: [{ name: "x", description: "too short" }] } };
      }
      return undefined;
    });
    const result = await cli(["run", ...ws.args], { factory });
    expect(result.code).toBe(0);
    const reask = calls.find((c) => c.promptText.includes("Your previous answer was rejected"));
    expect(reask?.promptText).toMatch(/did not match the schema \(features\.0\.name/);
    expect(readJsonl(ws.output)).toHaveLength(2);
  });

  it("npm run demo: the whole sample offline, with the short summary, then replayed", async () => {
    ws = workspace();
    const demo = await cli(["demo", "--home", ws.home, "--latency", "0"]);
    expect(demo.code).toBe(0);
    const runId = /Run (sa-[0-9a-f]{8}) \(pid \d+\): 20 services in 9 sectors, 4 plateaus/.exec(
      demo.out,
    )?.[1];
    expect(runId).toBeDefined();
    expect(demo.out).toContain(`continue with: npm run demo -- --resume ${runId}`);
    expect(demo.out).toMatch(/services {3}20 \(20 completed/);
    expect(demo.out).toMatch(/features {3}576\n/);
    expect(demo.out).toMatch(/model {6}local \(offline, priced as gpt-4o-mini\)/);
    expect(demo.out).toMatch(/cache {6}0 hits of 512 model calls/);
    expect(demo.out).toContain(`output     ${join(ws.home, "service-ambitions", "evolutions.jsonl")}`);
    expect(demo.out).toMatch(/Cost per service \(top 3 of 20\)/);
    const replay = await cli(["demo", "--home", ws.home, "--replay", runId as string]);
    expect(replay.code).toBe(0);
    expect(replay.out).toMatch(/512 model calls served from the journal/);
    const finished = await cli(["demo", "--home", ws.home, "--resume", runId as string]);
    expect(finished.code).toBe(6);
  });

  it("prints a JSON summary with --json-logs and refuses bad input with exit 2", async () => {
    ws = workspace({ services: 1, plateaus: 1 });
    const json = await cli(["run", ...ws.args, "--json-logs", "--run-id", "j1"]);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.out) as {
      status: string;
      result: { completed: number };
      cost: { calls: number };
    };
    expect(summary).toMatchObject({ status: "completed", result: { completed: 1 }, cost: { calls: 6 } });

    const bad = await cli(["run", ...ws.args, "--services", join(ws.dir, "missing.jsonl")]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.err)).toMatchObject({ code: "input_unreadable", exit_code: 2 });
    const noInput = await cli(["run", "--home", ws.home]);
    expect(noInput.code).toBe(2);
    const badFlag = await cli(["run", ...ws.args, "--plateau-concurrency", "0"]);
    expect(badFlag.code).toBe(2);
    const noKey = await cli(["run", ...ws.args, "--model", "openai:gpt-4o-mini"]);
    expect(noKey.code).toBe(2);
    expect(noKey.err).toContain("OPENAI_API_KEY");
  });
});
