import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT, errorLine, exitCodeOf } from "../src/cli/exit-codes.ts";
import { sampleSources } from "../src/cli/options.ts";
import { createRunProgress } from "../src/cli/progress.ts";
import { loadInputs, parsePlateaus, parseServices } from "../src/inputs.ts";
import { resolveAutoModel, seedFor } from "../src/models.ts";
import { relevantItems } from "../src/offline/relevance.ts";
import { checkMapping } from "../src/pipeline/answers.ts";
import { parseSettings, settingsDiff } from "../src/settings.ts";
import { workspace } from "./helpers.ts";

describe("inputs", () => {
  it("loads the shipped sample: 20 services in several sectors, realistic catalogues", () => {
    const { data, inputHash } = loadInputs(sampleSources());
    expect(data.services).toHaveLength(20);
    expect(new Set(data.services.map((s) => s.sector)).size).toBeGreaterThanOrEqual(6);
    expect(data.plateaus.map((p) => p.level)).toEqual([1, 2, 3, 4]);
    expect(data.catalogues.applications.length).toBeGreaterThanOrEqual(50);
    expect(data.catalogues.technologies.length).toBeGreaterThanOrEqual(50);
    expect(data.catalogues.information.length).toBeGreaterThanOrEqual(50);
    expect(inputHash).toBe(loadInputs(sampleSources()).inputHash);
  });

  it("names the file and line of bad input", () => {
    expect(() =>
      parseServices(
        '{"id":"a","name":"A","description":"d","customer_types":[],"jobs_to_be_done":["x"]}',
        "s.jsonl",
      ),
    ).toThrow(/s\.jsonl line 1: customer_types: Too small/);
    expect(() => parseServices("\n{oops", "s.jsonl")).toThrow(/s\.jsonl line 2 is not valid JSON/);
    const line = '{"id":"a","name":"A","description":"d","customer_types":["c"],"jobs_to_be_done":["x"]}';
    expect(() => parseServices(`${line}\n${line}`, "s.jsonl")).toThrow(/id a appears twice/);
    expect(() => parseServices("\n\n", "s.jsonl")).toThrow(/holds no service/);
    expect(() =>
      parsePlateaus(
        '[{"level":1,"name":"A","description":"d"},{"level":1,"name":"B","description":"e"}]',
        "p.json",
      ),
    ).toThrow(/plateau levels must be unique/);
    const ws = workspace();
    writeFileSync(join(ws.catalogues, "information.json"), '[{"id":"bad id","name":"x","description":"y"}]');
    expect(() =>
      loadInputs({ services: ws.services, plateaus: ws.plateaus, catalogues: ws.catalogues }),
    ).toThrow(/information\.json: 0\.id: ids are letters/);
    ws.remove();
  });
});

describe("settings", () => {
  it("fills defaults, rejects bad values, and names what differs", () => {
    const settings = parseSettings({});
    expect(settings).toMatchObject({
      model: "local",
      seed: 7,
      maxReasks: 2,
      plateauConcurrency: 2,
      cache: "read-write",
    });
    expect(() => parseSettings({ model: "cohere:command" })).toThrow(/model: a model is `local`/);
    expect(() => parseSettings({ unknown: 1 })).toThrow(/Invalid settings/);
    expect(settingsDiff(settings, parseSettings({ seed: 9, strict: true }))).toEqual([
      "seed (7 → 9)",
      "strict (false → true)",
    ]);
  });

  it("picks a provider whose key is set, and sends a seed only where the API takes one", () => {
    expect(resolveAutoModel({})).toBe("local");
    expect(resolveAutoModel({ ANTHROPIC_API_KEY: "k" })).toBe("anthropic:claude-3-5-haiku-latest");
    expect(resolveAutoModel({ OPENAI_API_KEY: "k", GOOGLE_GENERATIVE_AI_API_KEY: "g" })).toBe(
      "openai:gpt-4o-mini",
    );
    const settings = parseSettings({ seed: 5 });
    expect(seedFor("anthropic:claude-3-5-haiku-latest", settings)).toBeUndefined();
    expect(seedFor("openai:gpt-4o-mini", settings)).toBe(5);
  });
});

describe("mapping checks", () => {
  const catalogue = [
    { id: "APP-1", name: "Payments Gateway", description: "Takes online card payments and refunds." },
    {
      id: "APP-2",
      name: "Case Management System",
      description: "Work queues, tasks and decisions for staff.",
    },
  ];

  it("flags unknown ids, unknown or missing features, and (strict) empty mappings", () => {
    const problems = checkMapping(
      {
        mappings: [
          { feature_id: "f1", item_ids: ["APP-1", "APP-404"] },
          { feature_id: "f9", item_ids: [] },
          { feature_id: "f3", item_ids: [] },
        ],
      },
      ["f1", "f2", "f3"],
      catalogue,
      true,
    );
    expect(problems).toEqual([
      { kind: "invalid", message: "feature id f9 is not one of the features" },
      { kind: "missing", message: "feature f3 is mapped to no catalogue item" },
      { kind: "unknown_ids", message: "ids not in the catalogue: APP-404" },
      { kind: "missing", message: "features without a mapping: f2" },
    ]);
    expect(
      checkMapping({ mappings: [{ feature_id: "f1", item_ids: [] }] }, ["f1"], catalogue, false),
    ).toEqual([]);
  });

  it("the offline mapper picks items sharing informative words", () => {
    expect(relevantItems("Digital payments to pay a bill with a card refund", catalogue, 3)).toEqual([
      "APP-1",
    ]);
    expect(relevantItems("Quantum lattice annealing", catalogue, 3)).toEqual([]);
  });
});

describe("exit codes and error lines", () => {
  it("are stable per failure kind", () => {
    expect([
      exitCodeOf("processing_failed"),
      exitCodeOf("mapping_failed"),
      exitCodeOf("budget_exceeded"),
      exitCodeOf("resume_refused"),
      exitCodeOf("invalid_input"),
      exitCodeOf("journal_closed"),
    ]).toEqual([EXIT.processing, EXIT.mapping, EXIT.budget, EXIT.resumeRefused, EXIT.usage, EXIT.internal]);
    const line = errorLine(
      {
        name: "MappingError",
        code: "mapping_failed",
        message: "Service s failed: key sk-proj-abcdefghijklmnopqrstuvwx1234 leaked",
        isRetryable: false,
        details: { serviceId: "s", stage: "mapping:technologies", plateau: 3 },
      },
      { run_id: "r" },
    );
    expect(line).not.toContain("\n");
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      service_id: "s",
      stage: "mapping:technologies",
      plateau: 3,
      exit_code: 4,
      run_id: "r",
    });
    expect(parsed["message"]).not.toContain("sk-proj-abcdefghijklmnopqrstuvwx1234");
  });
});

describe("progress", () => {
  it("draws on a terminal, and stays quiet when not a terminal or with --json-logs", () => {
    const written: string[] = [];
    const tty = { isTTY: true, write: (chunk: string) => written.push(chunk) > 0 };
    const bar = createRunProgress({ steps: 4, services: 1, label: "run-1", stream: tty });
    expect(bar.drawing).toBe(true);
    bar.step();
    bar.service();
    bar.stop();
    bar.stop();
    expect(written.join("")).toContain("run-1");
    const pipe = { isTTY: false, write: (chunk: string) => written.push(chunk) > 0 };
    const before = written.length;
    const quiet = createRunProgress({ steps: 4, services: 1, label: "x", stream: pipe });
    quiet.step();
    quiet.stop();
    expect(quiet.drawing).toBe(false);
    expect(
      createRunProgress({ steps: 4, services: 1, label: "x", stream: tty, jsonLogs: true }).drawing,
    ).toBe(false);
    expect(written.length).toBe(before);
  });
});
