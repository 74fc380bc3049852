import type { InputFile } from "../ingest/ingest.ts";

/**
 * OpenLineage-style records: one RunEvent (eventType COMPLETE) per stage, naming the
 * stage's input and output datasets, written as JSON lines next to the report. The facets
 * carry content hashes and sizes, so a later reader can tell whether an output still
 * derives from the same inputs.
 */

export interface Dataset {
  namespace: string;
  name: string;
  facets?: Record<string, unknown>;
}

export interface LineageEvent {
  eventType: "COMPLETE";
  eventTime: string;
  producer: string;
  schemaURL: string;
  run: { runId: string; facets: Record<string, unknown> };
  job: { namespace: string; name: string; facets: Record<string, unknown> };
  inputs: Dataset[];
  outputs: Dataset[];
}

export const PRODUCER = "urn:ballast:field-audit";
const SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";

export function fileDataset(path: string, extra: Record<string, unknown> = {}): Dataset {
  return { namespace: "file", name: path, facets: extra };
}

export function stageEvent(
  runId: string,
  stage: string,
  inputs: Dataset[],
  outputs: Dataset[],
  durationMs: number,
  at: Date,
): LineageEvent {
  return {
    eventType: "COMPLETE",
    eventTime: at.toISOString(),
    producer: PRODUCER,
    schemaURL: SCHEMA,
    run: { runId, facets: { fieldAudit_timing: { durationMs: Math.round(durationMs * 1000) / 1000 } } },
    job: { namespace: "field-audit", name: `field-audit.${stage}`, facets: {} },
    inputs,
    outputs,
  };
}

export function inputDatasets(runDir: string, files: readonly InputFile[]): Dataset[] {
  return files.map((f) =>
    fileDataset(`${runDir}/${f.path}`, { fieldAudit_content: { sha256: f.sha256, bytes: f.bytes } }),
  );
}
