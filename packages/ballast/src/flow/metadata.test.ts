import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fingerprint } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import {
  buildRunMetadata,
  gitSha,
  type RunMetadataInput,
  runMetadataSchema,
  validateRunMetadata,
} from "./metadata.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "ballast-meta-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function gitRepo(): { dir: string; sha: string } {
  const dir = tempDir();
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  git("init", "-q");
  writeFileSync(join(dir, "f.txt"), "x");
  git("add", "f.txt");
  git("commit", "-q", "-m", "one");
  return { dir, sha: git("rev-parse", "HEAD") };
}

function input(overrides: Partial<RunMetadataInput> = {}): RunMetadataInput {
  return {
    runId: "run-1",
    workflow: "ingest",
    workflowVersion: 3,
    input: { files: ["a", "b"], limit: 2 },
    config: { model: "local", retries: 3 },
    seed: 42,
    stepDurations: [
      { name: "fetch", ms: 10 },
      { name: "parse", ms: 1 },
      { name: "fetch", ms: 30 },
      { name: "fetch", ms: 20 },
    ],
    counts: { steps: 4, retries: 1, executed: 4 },
    startedAt: Date.parse("2025-01-01T00:00:00Z"),
    endedAt: new Date("2025-01-01T00:00:01.5Z"),
    cwd: tempDir(),
    ...overrides,
  };
}

function caught(fn: () => unknown): BallastError {
  try {
    fn();
  } catch (error) {
    if (BallastError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a throw");
}

describe("buildRunMetadata", () => {
  it("assembles hashes, code version, latency summaries and counts, and passes the schema", () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    const metadata = buildRunMetadata(
      input({
        models: [
          { provider: "openai", modelId: "gpt-x" },
          { provider: "local", modelId: "echo" },
          { provider: "openai", modelId: "gpt-x" },
        ],
        tokens: { input: 100, output: 20 },
        costUsd: 0.0012,
      }),
    );
    expect(metadata).toEqual({
      schemaVersion: 1,
      runId: "run-1",
      workflow: "ingest",
      datasetHash: fingerprint({ limit: 2, files: ["a", "b"] }),
      codeVersion: { gitSha: null, packageVersion: pkg.version, workflowVersion: "3" },
      configFingerprint: fingerprint({ retries: 3, model: "local" }),
      seed: 42,
      models: [
        { provider: "local", modelId: "echo" },
        { provider: "openai", modelId: "gpt-x" },
      ],
      latency: {
        perStep: { fetch: { p50: 20, p95: 30, count: 3 }, parse: { p50: 1, p95: 1, count: 1 } },
        total: { p50: 10, p95: 30, count: 4 },
      },
      counts: { steps: 4, retries: 1, executed: 4 },
      tokens: { input: 100, output: 20, total: 120 },
      costUsd: 0.0012,
      startedAt: "2025-01-01T00:00:00.000Z",
      endedAt: "2025-01-01T00:00:01.500Z",
    });
    expect(() => validateRunMetadata(metadata)).not.toThrow();
  });

  it("uses nulls and zeros for a run with no steps, models, tokens or cost", () => {
    const metadata = buildRunMetadata(
      input({
        stepDurations: [],
        counts: { steps: 0, retries: 0 },
        seed: "seed-a",
        startedAt: "2025-01-01T00:00:00Z",
      }),
    );
    expect(metadata.models).toEqual([]);
    expect(metadata.latency).toEqual({ perStep: {}, total: { p50: 0, p95: 0, count: 0 } });
    expect(metadata.tokens).toBeNull();
    expect(metadata.costUsd).toBeNull();
    expect(metadata.startedAt).toBe("2025-01-01T00:00:00.000Z");
    validateRunMetadata(metadata);
  });

  it("records the git SHA of the repository the run started in", () => {
    const { dir, sha } = gitRepo();
    const metadata = buildRunMetadata(input({ cwd: dir }));
    expect(metadata.codeVersion.gitSha).toBe(sha);
    expect(gitSha(dir)).toBe(sha);
    validateRunMetadata(metadata);
  });

  it("asks git once per directory per process", () => {
    const { dir, sha } = gitRepo();
    expect(gitSha(dir)).toBe(sha);
    rmSync(join(dir, ".git"), { recursive: true, force: true });
    expect(gitSha(dir)).toBe(sha);
  });

  it("rejects an invalid time with metadata_invalid", () => {
    const error = caught(() => buildRunMetadata(input({ endedAt: "yesterday" })));
    expect(error.code).toBe("metadata_invalid");
    expect(error.message).toContain("endedAt");
    expect(error.message).toContain("run-1");
  });
});

describe("validateRunMetadata", () => {
  it("lists every failing path", () => {
    const metadata = buildRunMetadata(input()) as unknown as Record<string, unknown>;
    const broken: Record<string, unknown> = {
      ...metadata,
      extra: true,
      datasetHash: "not-a-hash",
      latency: {
        perStep: { fetch: { p50: "fast", p95: 1, count: 1 } },
        total: { p50: 0, p95: 0, count: -1 },
      },
      counts: { steps: 1, retries: 0, bogus: 2 },
    };
    delete broken["seed"];
    const error = caught(() => validateRunMetadata(broken));
    expect(error.code).toBe("metadata_invalid");
    const paths = (error.details["errors"] as Array<{ path: string }>).map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "/",
        "/datasetHash",
        "/latency/perStep/fetch/p50",
        "/latency/total/count",
        "/counts",
      ]),
    );
    expect(error.message).toContain("run-1");
    expect(error.message).toContain("/datasetHash");
    expect(error.message).toContain("must have required property 'seed'");
    expect(error.message).toContain("must NOT have additional properties");
  });

  it("rejects values that are not metadata at all", () => {
    expect(caught(() => validateRunMetadata(null)).message).toContain("(unknown)");
    expect(caught(() => validateRunMetadata({ runId: 7 })).code).toBe("metadata_invalid");
  });

  it("ships a draft 2020-12 schema that closes every object", () => {
    const schema = runMetadataSchema();
    expect(schema["$schema"]).toBe("https://json-schema.org/draft/2020-12/schema");
    const open: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${path}/${i}`);
      } else if (node !== null && typeof node === "object") {
        const record = node as Record<string, unknown>;
        if (record["type"] === "object" && record["additionalProperties"] === undefined) open.push(path);
        for (const [key, value] of Object.entries(record)) walk(value, `${path}/${key}`);
      }
    };
    walk(schema, "");
    expect(open).toEqual([]);
    expect(schema["additionalProperties"]).toBe(false);
  });
});
