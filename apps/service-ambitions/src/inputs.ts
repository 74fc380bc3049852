import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fingerprint, sha256Hex, ValidationError } from "ballast";
import { z } from "zod";

/**
 * The pipeline's inputs: `services.jsonl` (one service a line), the plateau ladder and the
 * three reference catalogues, each item with a stable id. Everything is validated on load
 * with messages that name the file and line; nothing runs on bad input.
 */

export const CATALOGUE_KINDS = ["applications", "technologies", "information"] as const;
export type CatalogueKind = (typeof CATALOGUE_KINDS)[number];

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "ids are letters, digits and . _ : -");
const text = z.string().trim().min(1);

export const serviceSchema = z.strictObject({
  id,
  name: text,
  sector: text.optional(),
  description: text,
  customer_types: z.array(text).min(1).max(8),
  jobs_to_be_done: z.array(text).min(1).max(12),
});
export type Service = z.infer<typeof serviceSchema>;

export const plateauSchema = z.strictObject({
  level: z.number().int().min(1).max(20),
  name: text,
  description: text,
  themes: z.array(text).max(12).default([]),
});
export type Plateau = z.infer<typeof plateauSchema>;

export const catalogueItemSchema = z.strictObject({
  id,
  name: text,
  description: text,
  category: text.optional(),
});
export type CatalogueItem = z.infer<typeof catalogueItemSchema>;

export type Catalogues = Record<CatalogueKind, CatalogueItem[]>;

export interface PipelineData {
  services: Service[];
  plateaus: Plateau[];
  catalogues: Catalogues;
}

export interface InputSources {
  services: string;
  plateaus: string;
  /** Folder holding applications.json, technologies.json and information.json. */
  catalogues: string;
}

export interface LoadedInputs {
  data: PipelineData;
  sources: InputSources;
  /** SHA-256 of each file's bytes, by path relative to nothing (absolute paths). */
  files: Record<string, string>;
  /** Fingerprint of the validated inputs (canonical JSON): what the header and resume compare. */
  inputHash: string;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ValidationError(
      "input_unreadable",
      `Cannot read input file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). Check the path.`,
      { path },
    );
  }
}

function issues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

function parseJson(raw: string, where: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new ValidationError("invalid_input", `${where} is not valid JSON (${(error as Error).message}).`, {
      where,
    });
  }
}

function unique<T extends { id: string }>(items: T[], where: string): T[] {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id)) {
      throw new ValidationError(
        "invalid_input",
        `${where}: id ${item.id} appears twice; ids must be unique.`,
        {
          where,
          id: item.id,
        },
      );
    }
    seen.add(item.id);
  }
  return items;
}

export function parseServices(raw: string, path: string): Service[] {
  const services: Service[] = [];
  raw.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    const where = `${path} line ${index + 1}`;
    const parsed = serviceSchema.safeParse(parseJson(line, where));
    if (!parsed.success) {
      throw new ValidationError("invalid_input", `${where}: ${issues(parsed.error)}.`, { where });
    }
    services.push(parsed.data);
  });
  if (services.length === 0) {
    throw new ValidationError("invalid_input", `${path} holds no service; put one JSON object per line.`, {
      path,
    });
  }
  return unique(services, path);
}

export function parsePlateaus(raw: string, path: string): Plateau[] {
  const parsed = z.array(plateauSchema).min(1).safeParse(parseJson(raw, path));
  if (!parsed.success) throw new ValidationError("invalid_input", `${path}: ${issues(parsed.error)}.`);
  const levels = parsed.data.map((p) => p.level);
  if (new Set(levels).size !== levels.length) {
    throw new ValidationError(
      "invalid_input",
      `${path}: plateau levels must be unique, got ${levels.join(", ")}.`,
    );
  }
  return [...parsed.data].sort((a, b) => a.level - b.level);
}

export function parseCatalogue(raw: string, path: string): CatalogueItem[] {
  const parsed = z.array(catalogueItemSchema).min(1).safeParse(parseJson(raw, path));
  if (!parsed.success) throw new ValidationError("invalid_input", `${path}: ${issues(parsed.error)}.`);
  return unique(parsed.data, path);
}

/** Reads and validates every input; the hash covers their validated content. */
export function loadInputs(sources: InputSources): LoadedInputs {
  const abs: InputSources = {
    services: resolve(sources.services),
    plateaus: resolve(sources.plateaus),
    catalogues: resolve(sources.catalogues),
  };
  const files: Record<string, string> = {};
  const take = (path: string): string => {
    const raw = read(path);
    files[path] = sha256Hex(raw);
    return raw;
  };
  const services = parseServices(take(abs.services), abs.services);
  const plateaus = parsePlateaus(take(abs.plateaus), abs.plateaus);
  const catalogues = {} as Catalogues;
  for (const kind of CATALOGUE_KINDS) {
    const path = join(abs.catalogues, `${kind}.json`);
    catalogues[kind] = parseCatalogue(take(path), path);
  }
  const data: PipelineData = { services, plateaus, catalogues };
  return { data, sources: abs, files, inputHash: fingerprint(data) };
}

/** Files whose bytes differ from `recorded` (path → sha256), for a resume's refusal message. */
export function changedFiles(recorded: Record<string, string>, current: Record<string, string>): string[] {
  const paths = new Set([...Object.keys(recorded), ...Object.keys(current)]);
  return [...paths].filter((p) => recorded[p] !== current[p]).sort();
}
