import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { fingerprint } from "../canonical.ts";
import { BallastError } from "../errors.ts";
import { type LatencySummary, summarize } from "../util/percentiles.ts";

/**
 * Run metadata: what a run was made of (input, code, config, seed, models) and how it went
 * (latency, counts, tokens, cost), in one document checked against the JSON Schema shipped in
 * `schemas/run-metadata.schema.json`. Latency percentiles are nearest-rank (see percentiles.ts):
 * each reported p50/p95 is a duration some step really had.
 */

export const RUN_METADATA_SCHEMA_VERSION = 1;

export interface ModelRef {
  provider: string;
  modelId: string;
}

export interface RunCounts {
  /** Steps the run went through, executed or served from the journal. */
  steps: number;
  /** Attempts retried after a retryable error. */
  retries: number;
  /** Steps whose function ran in this process. */
  executed?: number;
  /** Steps served from the journal (resume or replay). */
  cached?: number;
  /** Steps that ended in an error after their last attempt. */
  failed?: number;
  /** Journal events of the run. */
  events?: number;
  /** Journaled effects (model calls, commands, tool calls). */
  effects?: number;
}

export interface TokenCounts {
  input: number;
  output: number;
  total: number;
}

export type TimeInput = Date | number | string;

export interface RunMetadataInput {
  runId: string;
  workflow: string;
  workflowVersion: string | number;
  /** The run's input; hashed, never stored here. */
  input: unknown;
  /** The run's configuration; fingerprinted, never stored here. */
  config: unknown;
  seed: string | number;
  models?: readonly ModelRef[];
  /** One entry per step execution. */
  stepDurations: readonly { name: string; ms: number }[];
  counts: RunCounts;
  /** `total` defaults to input + output. */
  tokens?: { input: number; output: number; total?: number };
  costUsd?: number;
  startedAt: TimeInput;
  endedAt: TimeInput;
  /** Where to look for the git repository. Default: the process's working directory. */
  cwd?: string;
}

export interface RunMetadata {
  schemaVersion: typeof RUN_METADATA_SCHEMA_VERSION;
  runId: string;
  workflow: string;
  /** SHA-256 of the canonical JSON of the input. */
  datasetHash: string;
  codeVersion: { gitSha: string | null; packageVersion: string; workflowVersion: string };
  /** SHA-256 of the canonical JSON of the config. */
  configFingerprint: string;
  seed: string | number;
  models: ModelRef[];
  latency: { perStep: Record<string, LatencySummary>; total: LatencySummary };
  counts: RunCounts;
  tokens: TokenCounts | null;
  costUsd: number | null;
  startedAt: string;
  endedAt: string;
}

/**
 * Assembles a run's metadata. Hashes the input and config (canonical JSON, SHA-256), reads the
 * git SHA and package version, and summarises step durations per step name.
 *
 * @example
 * const metadata = buildRunMetadata({ runId, workflow: "ingest", workflowVersion: 2, input, config,
 *   seed, stepDurations, counts: { steps: 12, retries: 1 }, startedAt, endedAt: Date.now() });
 * validateRunMetadata(metadata);
 */
export function buildRunMetadata(args: RunMetadataInput): RunMetadata {
  const byName = new Map<string, number[]>();
  for (const { name, ms } of args.stepDurations) {
    const list = byName.get(name);
    if (list) list.push(ms);
    else byName.set(name, [ms]);
  }
  const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const models = new Map<string, ModelRef>();
  for (const m of args.models ?? [])
    models.set(`${m.provider}\u0000${m.modelId}`, { provider: m.provider, modelId: m.modelId });
  return {
    schemaVersion: RUN_METADATA_SCHEMA_VERSION,
    runId: args.runId,
    workflow: args.workflow,
    datasetHash: fingerprint(args.input),
    codeVersion: {
      gitSha: gitSha(args.cwd),
      packageVersion: packageVersion(),
      workflowVersion: String(args.workflowVersion),
    },
    configFingerprint: fingerprint(args.config),
    seed: args.seed,
    models: [...models.keys()].sort().map((key) => models.get(key)!),
    latency: {
      perStep: Object.fromEntries(names.map((name) => [name, summarize(byName.get(name)!)])),
      total: summarize(args.stepDurations.map((d) => d.ms)),
    },
    counts: { ...args.counts },
    tokens: args.tokens
      ? {
          input: args.tokens.input,
          output: args.tokens.output,
          total: args.tokens.total ?? args.tokens.input + args.tokens.output,
        }
      : null,
    costUsd: args.costUsd ?? null,
    startedAt: isoTime(args.startedAt, "startedAt", args.runId),
    endedAt: isoTime(args.endedAt, "endedAt", args.runId),
  };
}

function isoTime(value: TimeInput, field: string, runId: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new BallastError({
      code: "metadata_invalid",
      message: `Run ${runId}: ${field} is not a valid time (${String(value)}); pass a Date, epoch milliseconds or an ISO string.`,
      details: { runId, errors: [{ path: `/${field}`, message: "is not a valid time" }] },
    });
  }
  return date.toISOString();
}

let validator: ValidateFunction | undefined;

/** The schema shipped with the package (`ballast/schemas/run-metadata.schema.json`). */
export function runMetadataSchema(): Record<string, unknown> {
  // ../../schemas from both src/flow and dist/flow.
  return JSON.parse(readFileSync(new URL("../../schemas/run-metadata.schema.json", import.meta.url), "utf8"));
}

/**
 * Checks `metadata` against the shipped JSON Schema (compiled once per process). Throws a
 * `metadata_invalid` BallastError listing every failing path.
 */
export function validateRunMetadata(metadata: unknown): asserts metadata is RunMetadata {
  validator ??= new Ajv2020({ allErrors: true, strict: true }).compile(runMetadataSchema());
  if (validator(metadata)) return;
  const errors = (validator.errors ?? []).map((e) => ({
    path: e.instancePath || "/",
    message: e.message ?? "is invalid",
  }));
  const runId =
    typeof metadata === "object" &&
    metadata !== null &&
    typeof (metadata as { runId?: unknown }).runId === "string"
      ? (metadata as { runId: string }).runId
      : "(unknown)";
  throw new BallastError({
    code: "metadata_invalid",
    message: `Run ${runId}: run metadata does not match schemas/run-metadata.schema.json: ${errors
      .map((e) => `${e.path} ${e.message}`)
      .join("; ")}. Fix the values passed to buildRunMetadata.`,
    details: { runId, errors },
  });
}

const shaByDir = new Map<string, string | null>();

/**
 * The git HEAD of the repository containing `cwd`, or null when there is no git or no
 * repository. Runs `git rev-parse HEAD` at most once per directory per process.
 */
export function gitSha(cwd: string = process.cwd()): string | null {
  const cached = shaByDir.get(cwd);
  if (cached !== undefined) return cached;
  let sha: string | null = null;
  try {
    const out = execFileSync("git", ["rev-parse", "HEAD"], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
      windowsHide: true,
    }).trim();
    sha = /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(out) ? out : null;
  } catch {
    sha = null; // not a repository, no commits yet, or no git on this machine
  }
  shaByDir.set(cwd, sha);
  return sha;
}

let version: string | undefined;

function packageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
  ).version;
  return version;
}
