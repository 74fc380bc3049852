import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli.ts";
import { resolveConfig } from "../src/config.ts";
import { scoreDetections } from "../src/events/detect.ts";
import { ingestRun } from "../src/ingest/ingest.ts";
import { validateAuditMetadata } from "../src/lineage/metadata.ts";
import { logToMlflow } from "../src/lineage/mlflow.ts";
import { createAppLogger, normalizeLogLevel } from "../src/logging.ts";
import { smallRun, tempDir } from "./helpers/run-fixture.ts";

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: { write: (s: string) => out.push(s) },
      stderr: { write: (s: string) => err.push(s), isTTY: false },
      env,
    },
  };
}

describe("field-audit CLI end to end", () => {
  it("audits a run: report, schema-checked metadata, lineage per stage, warm cache on the second run", async () => {
    const { dir, truth } = await smallRun(41, 60);
    const out = tempDir();
    const args = [
      "audit",
      dir,
      "--out",
      join(out, "audit.html"),
      "--downsample",
      "3",
      "--feature-columns",
      "min_clearance_m,imu_roughness",
      "--caption-provider",
      "local",
      "--depth-workers",
      "2",
      "--cache-dir",
      join(out, "cache"),
      "--journal",
      join(out, "journal"),
      "--log-level",
      "25",
      "--json",
    ];
    const first = io();
    expect(await main(args, first.io)).toBe(0);
    // No progress bar when stderr is not a terminal: only JSON log lines, at the numeric level 25.
    const logLines = first.err
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(logLines.map((l) => l.msg)).toEqual(["audit finished"]);
    const summary = JSON.parse(first.out.join(""));
    expect(summary.depth).toEqual({ decoded: 60, cacheHits: 0 });
    expect(summary.mlflow).toEqual({ logged: false, reason: "MLFLOW_TRACKING_URI is not set" });

    const metadata = JSON.parse(readFileSync(summary.metadata, "utf8"));
    validateAuditMetadata(metadata);
    expect(metadata.dataset_hash).toBe((await ingestRun(dir)).datasetHash);
    expect(Object.keys(metadata.latency_summary.stages).sort()).toEqual([
      "captions",
      "events",
      "features",
      "ingest",
      "report",
    ]);
    expect(metadata.counts.events).toBe(summary.events.length);
    expect(metadata.ballast_run?.["workflow"]).toBe("field-audit");

    const lineage = readFileSync(summary.lineage, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lineage.map((e) => e.job.name)).toEqual([
      "field-audit.ingest",
      "field-audit.features",
      "field-audit.events",
      "field-audit.captions",
      "field-audit.report",
    ]);
    expect(lineage[0].inputs).toHaveLength(1 + 60 * 2 + 2);
    expect(lineage[4].outputs[0].name).toBe(summary.report);

    // Payload controls: only the chosen columns (and the score), every third frame plus event rows.
    const html = readFileSync(summary.report, "utf8");
    const features = JSON.parse(
      /<script type="application\/json" id="payload-features">(.*?)<\/script>/s.exec(html)![1]!,
    );
    expect(features.columns).toEqual(["min_clearance_m", "imu_roughness", "score"]);
    expect(features.t.length).toBeLessThanOrEqual(21 + summary.events.length * 3);

    const quality = scoreDetections(
      summary.events.map((e: { frame: number }) => ({ frame_idx: e.frame })),
      truth.events,
    );
    expect(quality.recall).toBeGreaterThanOrEqual(2 / 3);
    expect(quality.precision).toBeGreaterThanOrEqual(2 / 3);

    const second = io();
    expect(await main(args, second.io)).toBe(0);
    expect(JSON.parse(second.out.join("")).depth).toEqual({ decoded: 0, cacheHits: 60 });
  });

  it("fails cleanly with a message naming the problem", async () => {
    const bad = io();
    expect(await main(["audit", "/nonexistent/run", "--out", join(tempDir(), "r.html")], bad.io)).toBe(1);
    expect(bad.err.join("")).toMatch(
      /\[input_missing\] \/nonexistent\/run\/manifest\.json: manifest\.json is listed but does not exist/,
    );
    const column = io();
    expect(await main(["audit", "x", "--out", "r.html", "--feature-columns", "nope"], column.io)).not.toBe(0);
    expect(column.err.join("")).toMatch(/unknown column\(s\) nope/);
    const generated = io();
    const target = join(tempDir(), "gen");
    expect(
      await main(["generate", target, "--frames", "6", "--size", "64x48", "--seed", "2"], generated.io),
    ).toBe(0);
    expect(generated.out.join("")).toMatch(/wrote .*gen: 6 frames/);
    expect((await ingestRun(target)).manifest.depth.width).toBe(32);
  });
});

describe("configuration", () => {
  it("WP-7: a numeric log level is stored and used as an integer; names stay names", () => {
    const numeric = resolveConfig({ runDir: "r", out: "o.html", logLevel: "25" }, {});
    expect(numeric.logLevel).toBe(25);
    expect(typeof numeric.logLevel).toBe("number");
    expect(resolveConfig({ runDir: "r", out: "o.html" }, { FIELD_AUDIT_LOG_LEVEL: "15" }).logLevel).toBe(15);
    expect(resolveConfig({ runDir: "r", out: "o.html", logLevel: "DEBUG" }, {}).logLevel).toBe("debug");
    expect(normalizeLogLevel(40)).toBe(40);
    expect(normalizeLogLevel("warning")).toBe("warn");
    expect(() => normalizeLogLevel("loud")).toThrow(/Unknown log level "loud"/);
    expect(() => normalizeLogLevel(1000)).toThrow(/out of range/);

    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createAppLogger(25, sink);
    expect(log.levelVal).toBe(25);
    log.debug("hidden (20 < 25)");
    log.info("shown (30 >= 25)");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).msg).toBe("shown (30 >= 25)");
    expect(createAppLogger(40, sink).level).toBe("warn");
    expect(createAppLogger("debug", sink).levelVal).toBe(20);
  });

  it("rejects bad settings with the path of the bad value", () => {
    expect(() => resolveConfig({ runDir: "r", out: "o", depthWorkers: 0 }, {})).toThrow(/depthWorkers/);
    expect(() => resolveConfig({ runDir: "r", out: "o", events: { distance: 0.5 } }, {})).toThrow(
      /events\.distance/,
    );
    expect(resolveConfig({ runDir: "r", out: "o" }, { FIELD_AUDIT_DEPTH_WORKERS: "2" }).depthWorkers).toBe(2);
  });

  it("rejects metadata that does not match the schema", () => {
    expect(() => validateAuditMetadata({ schema_version: 1, tool: "field-audit" })).toThrow(/dataset_hash/);
  });
});

describe("MLflow (optional)", () => {
  const input = {
    experiment: "field-audit",
    runName: "r1",
    params: { mode: "single" },
    metrics: { events: 3, bad: Number.NaN },
  };

  it("is a no-op without MLFLOW_TRACKING_URI, and refuses non-http URIs without throwing", async () => {
    expect(await logToMlflow(input, {})).toEqual({ logged: false, reason: "MLFLOW_TRACKING_URI is not set" });
    expect((await logToMlflow(input, { MLFLOW_TRACKING_URI: "file:///tmp/mlruns" })).logged).toBe(false);
  });

  it("logs params and metrics through the REST API when configured", async () => {
    const calls: { path: string; body: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let raw = "";
      req.on("data", (c) => {
        raw += c;
      });
      req.on("end", () => {
        const path = req.url ?? "";
        calls.push({ path, body: JSON.parse(raw) });
        res.setHeader("content-type", "application/json");
        if (path.endsWith("experiments/get-by-name")) {
          res.statusCode = 404;
          res.end("{}");
        } else if (path.endsWith("experiments/create")) res.end(JSON.stringify({ experiment_id: "7" }));
        else if (path.endsWith("runs/create"))
          res.end(JSON.stringify({ run: { info: { run_id: "run-1" } } }));
        else res.end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect(await logToMlflow(input, { MLFLOW_TRACKING_URI: url })).toEqual({
        logged: true,
        runId: "run-1",
      });
      expect(calls.map((c) => c.path.replace("/api/2.0/mlflow/", ""))).toEqual([
        "experiments/get-by-name",
        "experiments/create",
        "runs/create",
        "runs/log-batch",
        "runs/update",
      ]);
      const batch = calls[3]!.body as { params: unknown[]; metrics: { key: string }[] };
      expect(batch.params).toEqual([{ key: "mode", value: "single" }]);
      expect(batch.metrics.map((m) => m.key)).toEqual(["events"]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const down = await logToMlflow(input, { MLFLOW_TRACKING_URI: url });
    expect(down.logged).toBe(false);
    expect(down.reason).toMatch(/MLflow logging failed/);
  });
});

describe("perf budget gate", () => {
  it("passes within budget and names every miss", async () => {
    const { judgePerfBudget } = await import("../src/perf-budget.ts");
    expect(judgePerfBudget({ coldMs: 400, warmMs: 20, warmDecoded: 0 })).toEqual({ ok: true, failures: [] });
    const miss = judgePerfBudget(
      { coldMs: 9000, warmMs: 3000, warmDecoded: 4 },
      { maxColdMs: 5000, minWarmSpeedup: 5 },
    );
    expect(miss.ok).toBe(false);
    expect(miss.failures).toEqual([
      "cold features took 9000 ms, budget 5000 ms",
      "warm cache speedup 3.0x is below 5x",
      "the warm run decoded 4 depth images (expected 0)",
    ]);
  });
});
