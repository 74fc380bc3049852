import { BallastError } from "ballast";
import cliProgress from "cli-progress";
import { Command, InvalidArgumentError, Option } from "commander";
import { type AuditConfigInput, resolveConfig } from "./config.ts";
import { closeDepthPools, FEATURE_COLUMNS, type FeatureColumn } from "./features/extract.ts";
import { generateRun } from "./generator/generate-run.ts";
import { createAppLogger } from "./logging.ts";
import { runAudit } from "./pipeline.ts";

/**
 * `field-audit`: `audit <run-dir>` runs the pipeline and writes the report, metadata and
 * lineage; `generate <out-dir>` writes a synthetic run with ground truth. The progress bar
 * draws only on an interactive stderr and never with --json.
 */

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer.`);
  return n;
};
const num = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number.`);
  return n;
};
const columns = (value: string): FeatureColumn[] => {
  const list = value
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  const bad = list.filter((c) => !(FEATURE_COLUMNS as readonly string[]).includes(c));
  if (bad.length > 0)
    throw new InvalidArgumentError(
      `unknown column(s) ${bad.join(", ")}; choose from ${FEATURE_COLUMNS.join(", ")}.`,
    );
  return list as FeatureColumn[];
};

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export function buildProgram(
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Command {
  const program = new Command("field-audit")
    .description(
      "Audit an agricultural robot run: depth/IMU features, scipy-exact events, captions, an HTML report.",
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  program
    .command("audit")
    .argument("<run-dir>", "run directory with manifest.json")
    .requiredOption("-o, --out <file>", "report HTML file")
    .addOption(
      new Option("--report-mode <mode>", "single self-contained file, or split HTML + assets")
        .choices(["single", "split"])
        .default("single"),
    )
    .option("--downsample <n>", "keep every n-th frame in the report payloads", int("--downsample"), 1)
    .option("--feature-columns <list>", `comma-separated, from ${FEATURE_COLUMNS.join(",")}`, columns)
    .option("--depth-workers <n>", "worker threads for depth decoding", int("--depth-workers"), 1)
    .option("--cache-dir <dir>", "persistent Parquet depth cache folder")
    .option("--height <z>", "minimum event score (robust z)", num("--height"))
    .option("--prominence <z>", "minimum peak prominence", num("--prominence"))
    .option("--width <frames>", "minimum peak width in frames", num("--width"))
    .option("--min-distance <frames>", "minimum frames between events", num("--min-distance"))
    .option("--wlen <frames>", "prominence window in frames", num("--wlen"))
    .option("--rel-height <r>", "relative height of the width measurement", num("--rel-height"))
    .addOption(
      new Option("--caption-provider <p>", "caption model: gemini (default with a key), local, none").choices(
        ["gemini", "local", "none"],
      ),
    )
    .option("--gemini-model <id>", "Gemini model id")
    .option("--gemini-base-url <url>", "Gemini API base URL (e.g. a fake server)")
    .option("--gemini-workers <n>", "captions requested at once", int("--gemini-workers"))
    .option("--gemini-retries <n>", "retries per caption", int("--gemini-retries"))
    .option("--gemini-backoff-ms <ms>", "first backoff cap (jittered, doubling)", num("--gemini-backoff-ms"))
    .option("--gemini-timeout-ms <ms>", "SDK-side timeout per attempt", num("--gemini-timeout-ms"))
    .option("--gemini-cache <file>", "SQLite response cache for captions")
    .option("--journal <dir>", "ballast home for the run journal (default BALLAST_HOME or .ballast)")
    .option("--log-level <level>", "name (debug, info, warn, ...) or integer")
    .option("--json", "print the result as JSON")
    .action(async (runDir: string, o: Record<string, unknown>) => {
      const config = resolveConfig(
        {
          runDir,
          out: o["out"] as string,
          reportMode: o["reportMode"] as "single" | "split",
          downsample: o["downsample"] as number,
          ...(o["featureColumns"] ? { featureColumns: o["featureColumns"] as FeatureColumn[] } : {}),
          depthWorkers: o["depthWorkers"] as number,
          ...(o["cacheDir"] ? { cacheDir: o["cacheDir"] as string } : {}),
          events: Object.fromEntries(
            Object.entries({
              height: o["height"],
              prominence: o["prominence"],
              width: o["width"],
              distance: o["minDistance"],
              wlen: o["wlen"],
              relHeight: o["relHeight"],
            }).filter(([, v]) => v !== undefined),
          ) as AuditConfigInput["events"],
          captions: Object.fromEntries(
            Object.entries({
              provider: o["captionProvider"],
              modelId: o["geminiModel"],
              baseURL: o["geminiBaseUrl"],
              workers: o["geminiWorkers"],
              retries: o["geminiRetries"],
              baseDelayMs: o["geminiBackoffMs"],
              attemptTimeoutMs: o["geminiTimeoutMs"],
              cachePath: o["geminiCache"],
            }).filter(([, v]) => v !== undefined),
          ) as AuditConfigInput["captions"],
          ...(o["logLevel"] !== undefined ? { logLevel: o["logLevel"] as string } : {}),
          ...(o["journal"] ? { journalHome: o["journal"] as string } : {}),
        },
        io.env,
      );
      const log = createAppLogger(config.logLevel, { write: (line: string) => io.stderr.write(line) });
      const bar =
        io.stderr.isTTY === true && o["json"] !== true
          ? new cliProgress.SingleBar(
              {
                stream: io.stderr as NodeJS.WritableStream,
                format: "{stage} [{bar}] {value}/{total}",
                hideCursor: false,
              },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      let started = false;
      const result = await runAudit(config, {
        env: io.env,
        captionPolicy: { logger: log },
        onProgress: (stage, done, total) => {
          if (!bar) return;
          if (!started) {
            bar.start(total, done, { stage });
            started = true;
          } else bar.update(done, { stage });
        },
      }).finally(async () => {
        if (started) bar?.stop();
        await closeDepthPools();
      });
      log.info({ runId: result.runId, events: result.detection.events.length }, "audit finished");
      const summary = {
        runId: result.runId,
        report: result.report.html,
        mode: result.report.mode,
        htmlBytes: result.report.htmlBytes,
        assetBytes: result.report.assetBytes,
        events: result.detection.events.map((e) => ({
          id: e.id,
          kind: e.kind,
          frame: e.frame_idx,
          score: Number(e.score.toFixed(2)),
        })),
        metadata: result.metadataPath,
        lineage: result.lineagePath,
        depth: {
          decoded: result.features.decoded,
          cacheHits: result.features.diskHits + result.features.hotHits,
        },
        mlflow: result.mlflow,
      };
      if (o["json"]) io.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        io.stdout.write(`report: ${summary.report} (${summary.mode}, ${summary.htmlBytes} bytes HTML)\n`);
        io.stdout.write(
          `events: ${summary.events.length}${summary.events.map((e) => `\n  ${e.id} ${e.kind} frame ${e.frame} score ${e.score}`).join("")}\n`,
        );
        io.stdout.write(`metadata: ${summary.metadata}\nlineage: ${summary.lineage}\n`);
      }
    });

  program
    .command("generate")
    .argument("<out-dir>", "folder to create (replaced if it exists)")
    .option("--seed <n>", "random seed", int("--seed"), 1)
    .option("--frames <n>", "frames to render", int("--frames"), 300)
    .option("--fps <n>", "frame rate", num("--fps"), 5)
    .option("--event-spacing <m>", "mean metres between anomalies", num("--event-spacing"), 8)
    .option("--size <WxH>", "camera size (depth is half)", "320x240")
    .action(
      async (
        outDir: string,
        o: { seed: number; frames: number; fps: number; eventSpacing: number; size: string },
      ) => {
        const match = /^(\d+)x(\d+)$/.exec(o.size);
        if (!match) throw new InvalidArgumentError("--size must look like 320x240.");
        const [w, h] = [Number(match[1]), Number(match[2])];
        const truth = await generateRun(outDir, {
          seed: o.seed,
          frames: o.frames,
          fps: o.fps,
          eventSpacing: o.eventSpacing,
          rgb: { width: w, height: h },
          depth: { width: Math.round(w / 2), height: Math.round(h / 2) },
        });
        io.stdout.write(`wrote ${outDir}: ${o.frames} frames, ${truth.events.length} ground-truth events\n`);
      },
    );
  return program;
}

/** Runs the CLI; returns the exit code (errors print their message, which says what to do next). */
export async function main(argv: string[], io?: CliIo): Promise<number> {
  const out = io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env };
  const program = buildProgram(out);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    const e = error as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === "string" && e.code.startsWith("commander.")) return e.exitCode ?? 2;
    out.stderr.write(
      `field-audit: ${BallastError.isInstance(error) ? `[${error.code}] ` : ""}${e.message ?? String(error)}\n`,
    );
    return 1;
  }
}
