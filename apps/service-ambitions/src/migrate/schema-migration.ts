import { readFileSync } from "node:fs";
import { canonicalJson, ValidationError } from "ballast";
import { writeFileAtomic } from "../output/write.ts";

/**
 * Migrations of `evolutions.jsonl` between schema versions, as ordered data: each step is a
 * pure function of one record, so a migration preserves record order and every field it
 * does not own (metadata), and gives the same bytes every time.
 *
 * 1.0 → 1.1:
 * - records gain `type` (`header` or `service`) and `schema_version: "1.1"`; a header
 *   records `migrated_from`;
 * - plateaus: `plateau` → `level`, `plateau_name` → `name`, `service_description` → `description`;
 * - features: the 0–1 `score` becomes `{ level, label, justification }` (level 1–5);
 * - mappings: the `data` catalogue is renamed `information`; items `{ item, name }` (or bare
 *   ids) become `{ id, name }`.
 */

type Json = Record<string, unknown>;

const LABELS = ["Initial", "Managed", "Defined", "Quantitatively managed", "Optimising"];

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(where: string, message: string): never {
  throw new ValidationError("invalid_record", `${where}: ${message}`, { where });
}

function migrateScore(score: unknown, where: string): Json {
  if (isObject(score)) return score; // already structured
  if (typeof score !== "number" || !(score >= 0 && score <= 1))
    fail(where, "score must be a number in [0, 1]");
  const level = Math.min(5, Math.max(1, Math.ceil(score * 5)));
  return { level, label: LABELS[level - 1], justification: `Migrated from schema 1.0 score ${score}.` };
}

function migrateItems(items: unknown, where: string): Json[] {
  if (!Array.isArray(items)) fail(where, "mapping items must be an array");
  return items.map((item, i) => {
    if (typeof item === "string") return { id: item, name: item };
    if (isObject(item)) {
      const { item: id, id: newId, name, ...rest } = item;
      const chosen = newId ?? id;
      if (typeof chosen !== "string") fail(`${where}[${i}]`, "mapping item needs an id");
      return { ...rest, id: chosen, name: typeof name === "string" ? name : chosen };
    }
    return fail(`${where}[${i}]`, "mapping item must be an id or an object");
  });
}

function migrateFeature(feature: unknown, where: string): Json {
  if (!isObject(feature)) fail(where, "feature must be an object");
  const { score, mappings, ...rest } = feature;
  const source = isObject(mappings) ? mappings : {};
  const { data, information, applications, technologies, ...otherKinds } = source;
  return {
    ...rest,
    score: migrateScore(score, `${where}.score`),
    mappings: {
      ...otherKinds,
      applications: migrateItems(applications ?? [], `${where}.mappings.applications`),
      technologies: migrateItems(technologies ?? [], `${where}.mappings.technologies`),
      information: migrateItems(information ?? data ?? [], `${where}.mappings.information`),
    },
  };
}

function migratePlateau(plateau: unknown, where: string): Json {
  if (!isObject(plateau)) fail(where, "plateau must be an object");
  const { plateau: level, plateau_name: name, service_description: description, features, ...rest } = plateau;
  if (typeof level !== "number") fail(where, "plateau needs a numeric `plateau`");
  if (!Array.isArray(features)) fail(where, "plateau needs a `features` array");
  return {
    ...rest,
    level,
    name: typeof name === "string" ? name : `Plateau ${level}`,
    description: typeof description === "string" ? description : "",
    features: features.map((f, i) => migrateFeature(f, `${where}.features[${i}]`)),
  };
}

function from10to11(record: Json, where: string): Json {
  const version = record["schema_version"];
  if (version !== undefined && version !== "1.0")
    fail(where, `schema_version is ${String(version)}, not 1.0`);
  if (record["type"] === "header") return { ...record, schema_version: "1.1", migrated_from: "1.0" };
  const { plateaus, service, ...rest } = record;
  if (!isObject(service) || !Array.isArray(plateaus))
    fail(where, "a service record needs `service` and `plateaus`");
  return {
    ...rest,
    type: "service",
    schema_version: "1.1",
    service,
    plateaus: plateaus.map((p, i) => migratePlateau(p, `${where}.plateaus[${i}]`)),
    models: Array.isArray(rest["models"]) ? rest["models"] : [],
  };
}

const STEPS: { from: string; to: string; migrate: (record: Json, where: string) => Json }[] = [
  { from: "1.0", to: "1.1", migrate: from10to11 },
];

/** The chain of steps from `from` to `to`, or a clear error when there is none. */
export function migrationPath(from: string, to: string): typeof STEPS {
  const path: typeof STEPS = [];
  let at = from;
  while (at !== to) {
    const step = STEPS.find((s) => s.from === at);
    if (step === undefined) {
      throw new ValidationError(
        "migration_unsupported",
        `No migration from schema ${from} to ${to}. Supported: ${STEPS.map((s) => `${s.from} → ${s.to}`).join(", ")}.`,
      );
    }
    path.push(step);
    at = step.to;
  }
  return path;
}

export function migrateRecord(record: unknown, from: string, to: string, where = "record"): Json {
  if (!isObject(record)) fail(where, "each line must be a JSON object");
  return migrationPath(from, to).reduce((r, step) => step.migrate(r, where), record);
}

/** Migrates JSONL text; the output is canonical JSON, one record a line, in input order. */
export function migrateJsonl(text: string, from: string, to: string, name = "input"): string {
  const steps = migrationPath(from, to);
  const out: string[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `${name} line ${index + 1}`;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch (error) {
      fail(where, `not valid JSON (${(error as Error).message})`);
    }
    if (!isObject(record)) fail(where, "each line must be a JSON object");
    out.push(canonicalJson(steps.reduce((r, step) => step.migrate(r, where), record)));
  });
  return out.map((line) => `${line}\n`).join("");
}

export function migrateFile(options: { from: string; to: string; input: string; output: string }): {
  records: number;
  sha256: string;
} {
  let text: string;
  try {
    text = readFileSync(options.input, "utf8");
  } catch (error) {
    throw new ValidationError(
      "input_unreadable",
      `Cannot read ${options.input} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
  const migrated = migrateJsonl(text, options.from, options.to, options.input);
  const written = writeFileAtomic(options.output, migrated);
  return { records: migrated === "" ? 0 : migrated.split("\n").length - 1, sha256: written.sha256 };
}
