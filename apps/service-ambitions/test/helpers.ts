import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import { type ChatIntent, createLocalModel, type FakeReply } from "ballast/testing";
import { SAMPLE_DIR } from "../src/cli/options.ts";
import { runCli } from "../src/cli/program.ts";
import type { ModelFactory } from "../src/models.ts";
import { contextOf, offlineAnswer } from "../src/offline/responder.ts";

/** A temporary workspace with a cut of the sample inputs, and helpers to run the CLI in it. */

export interface Workspace {
  dir: string;
  home: string;
  services: string;
  plateaus: string;
  catalogues: string;
  output: string;
  quarantine: string;
  /** --services ... --plateaus ... --catalogues ... --home ... --output ... */
  args: string[];
  remove(): void;
}

export function workspace(options: { services?: number; plateaus?: number } = {}): Workspace {
  const dir = mkdtempSync(join(tmpdir(), "service-ambitions-"));
  const catalogues = join(dir, "catalogues");
  mkdirSync(catalogues);
  for (const kind of ["applications", "technologies", "information"]) {
    copyFileSync(join(SAMPLE_DIR, "catalogues", `${kind}.json`), join(catalogues, `${kind}.json`));
  }
  const lines = readFileSync(join(SAMPLE_DIR, "services.jsonl"), "utf8").trim().split("\n");
  const services = join(dir, "services.jsonl");
  writeFileSync(services, `${lines.slice(0, options.services ?? 2).join("\n")}\n`);
  const plateauList = JSON.parse(readFileSync(join(SAMPLE_DIR, "plateaus.json"), "utf8")) as unknown[];
  const plateaus = join(dir, "plateaus.json");
  writeFileSync(plateaus, JSON.stringify(plateauList.slice(0, options.plateaus ?? 2), null, 2));
  const home = join(dir, "home");
  const output = join(dir, "out", "evolutions.jsonl");
  return {
    dir,
    home,
    services,
    plateaus,
    catalogues,
    output,
    quarantine: join(dir, "out", "quarantine"),
    args: [
      "--services",
      services,
      "--plateaus",
      plateaus,
      "--catalogues",
      catalogues,
      "--home",
      home,
      "--output",
      output,
    ],
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(
  argv: string[],
  options: { factory?: ModelFactory; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    env: options.env ?? {},
    ...(options.factory === undefined ? {} : { factory: options.factory }),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/**
 * A model factory for tests: the offline model, with `override` answering first (return
 * undefined to fall back to the offline answer). `calls` records every request's intent.
 */
export function scriptedFactory(
  override: (intent: ChatIntent, task: string | undefined) => FakeReply | undefined,
  options: { latencyMs?: number; modelId?: string } = {},
): { factory: ModelFactory; calls: ChatIntent[] } {
  const calls: ChatIntent[] = [];
  const factory: ModelFactory = (_spec, settings): LanguageModelV4 =>
    createLocalModel({
      seed: settings.seed,
      latencyMs: options.latencyMs ?? 0,
      ...(options.modelId === undefined ? {} : { modelId: options.modelId }),
      respond: (intent) => {
        calls.push(intent);
        return override(intent, contextOf(intent.promptText)?.task) ?? offlineAnswer(intent, settings.seed);
      },
    });
  return { factory, calls };
}

export function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
