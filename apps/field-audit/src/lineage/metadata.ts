import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { ValidationError } from "ballast";

/**
 * The audit's run metadata (seed 000, WP-8): dataset hash, code version, config
 * fingerprint and latency summary, plus counts, outputs and ballast's own run metadata,
 * checked against schemas/run-metadata.schema.json before it is written.
 */

export interface AuditMetadata {
  schema_version: 1;
  tool: "field-audit";
  run_id: string;
  dataset_hash: string;
  code_version: { git_sha: string | null; package_version: string; ballast_version: string };
  config_fingerprint: string;
  latency_summary: { stages: Record<string, { ms: number }>; total_ms: number };
  counts: Record<string, number>;
  outputs: { path: string; bytes: number }[];
  ballast_run: Record<string, unknown> | null;
  created_at: string;
}

let validator: ValidateFunction | undefined;

export function metadataSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL("../../schemas/run-metadata.schema.json", import.meta.url), "utf8"));
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

export function validateAuditMetadata(value: unknown): asserts value is AuditMetadata {
  if (validator === undefined) {
    const ajv = new Ajv2020({ allErrors: true, strict: true });
    ajv.addFormat("date-time", ISO);
    validator = ajv.compile(metadataSchema());
  }
  if (validator(value)) return;
  const errors = (validator.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  throw new ValidationError(
    "metadata_invalid",
    `Run metadata does not match schemas/run-metadata.schema.json: ${errors.join("; ")}.`,
    { errors },
  );
}

export function packageVersions(): { package_version: string; ballast_version: string } {
  const own = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  const ballast = JSON.parse(readFileSync(new URL(import.meta.resolve("ballast/package.json")), "utf8")) as {
    version: string;
  };
  return { package_version: own.version, ballast_version: ballast.version };
}
