import { canonicalJson } from "ballast";
import type { CatalogueKind, Service } from "../inputs.ts";
import type { Settings } from "../settings.ts";

/**
 * `evolutions.jsonl`: a header record, then one record per service in input order. Lines
 * are canonical JSON (sorted keys, no whitespace), and nothing in them depends on time,
 * run id or machine, so the same seed, settings, inputs and code give the same bytes.
 */

export const SCHEMA_VERSION = "1.1";

export interface MappedItem {
  id: string;
  name: string;
}

export interface FeatureRecord {
  feature_id: string;
  customer_type: string;
  name: string;
  description: string;
  score: { level: number; label: string; justification: string };
  mappings: Record<CatalogueKind, MappedItem[]>;
}

export interface PlateauRecord {
  level: number;
  name: string;
  description: string;
  features: FeatureRecord[];
}

export interface ServiceRecord {
  type: "service";
  schema_version: string;
  service: Service;
  plateaus: PlateauRecord[];
  /** Models that answered for this service (fallbacks show here), sorted. */
  models: string[];
}

export interface HeaderRecord {
  type: "header";
  schema_version: string;
  generator: string;
  git_sha: string | null;
  seed: number;
  input_hash: string;
  settings: Settings;
  models: Record<string, unknown>;
  inputs: { services: number; plateaus: number; catalogues: Record<CatalogueKind, number> };
  /** Services not in this file: quarantined in this run, or skipped as already quarantined. */
  quarantined: string[];
  skipped: string[];
}

export type OutputRecord = HeaderRecord | ServiceRecord;

export function toJsonl(records: readonly OutputRecord[]): string {
  return records.map((record) => `${canonicalJson(record)}\n`).join("");
}
