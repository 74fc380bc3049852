import { readFileSync, writeFileSync } from "node:fs";
import { appendFile, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";
import { DEPTH_NOISE } from "../src/generator/sensors.ts";
import { decodeDepthPng, encodeDepthPng, readImageHeader } from "../src/images.ts";
import { ingestRun } from "../src/ingest/ingest.ts";
import { runAudit } from "../src/pipeline.ts";
import { smallRun, tempDir } from "./helpers/run-fixture.ts";

describe("16-bit depth PNGs", () => {
  it("keep every bit through pngjs (no rescaling to 8 bits)", () => {
    const mm = Uint16Array.from({ length: 12 * 7 }, (_, i) => (i * 7919 + 1) % 65536);
    mm[3] = 0;
    mm[4] = 65535;
    const png = encodeDepthPng(mm, 12, 7);
    expect(readImageHeader(png, "x.png")).toMatchObject({
      format: "png",
      width: 12,
      height: 7,
      bitDepth: 16,
      colorType: 0,
    });
    expect(decodeDepthPng(png, "x.png").mm).toEqual(mm);
  });
});

describe("generator", () => {
  it("is deterministic, writes ground truth, and its depth has dropouts and noise", async () => {
    const a = await smallRun(5, 24);
    const b = await smallRun(5, 24);
    const [runA, runB] = [await ingestRun(a.dir), await ingestRun(b.dir)];
    expect(runA.datasetHash).toBe(runB.datasetHash);
    expect(runA.manifest.frames).toHaveLength(24);
    const depth = decodeDepthPng(readFileSync(join(a.dir, runA.manifest.frames[3]!.depth)), "d");
    const zeros = depth.mm.filter((v) => v === 0).length;
    expect(zeros / depth.mm.length).toBeGreaterThan(DEPTH_NOISE.pixelDropout / 2);
    expect(new Set(depth.mm).size).toBeGreaterThan(100);
    expect(runA.gps.t.length).toBeGreaterThan(20);
    expect(runA.imu.t.length).toBeGreaterThan(1000);
    const truth = JSON.parse(readFileSync(join(a.dir, "ground_truth.json"), "utf8"));
    expect(truth.frames).toBe(24);
    const full = await smallRun(7, 60);
    expect(full.truth.events.length).toBeGreaterThanOrEqual(2);
    for (const e of full.truth.events) expect(e.frame_end).toBeGreaterThanOrEqual(e.frame_start);
  });
});

describe("ingest validation", () => {
  it("hashes every input: one changed byte changes the dataset hash", async () => {
    const { dir } = await smallRun(9, 12);
    const before = await ingestRun(dir);
    expect(before.files.length).toBe(1 + 12 * 2 + 2);
    await appendFile(join(dir, "imu.csv"), "");
    expect((await ingestRun(dir)).datasetHash).toBe(before.datasetHash);
    const gps = readFileSync(join(dir, "gps.csv"), "utf8").replace("\n0.013,", "\n0.014,");
    writeFileSync(join(dir, "gps.csv"), gps);
    expect((await ingestRun(dir)).datasetHash).not.toBe(before.datasetHash);
  });

  it("names the bad file and says what is wrong", async () => {
    const { dir } = await smallRun(9, 12);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    const write = (m: unknown) => writeFileSync(join(dir, "manifest.json"), JSON.stringify(m));

    write({
      ...manifest,
      frames: [...manifest.frames.slice(0, 2), { ...manifest.frames[2], depth: "../escape.png" }],
    });
    await expect(ingestRun(dir)).rejects.toThrow(
      /manifest\.json: frames\.2\.depth must be a relative path inside the run directory/,
    );

    write({ ...manifest, frames: [manifest.frames[1], manifest.frames[0], manifest.frames[2]] });
    await expect(ingestRun(dir)).rejects.toThrow(/frame idx 0 does not increase/);

    write(manifest);
    await rm(join(dir, manifest.frames[4].rgb));
    await expect(ingestRun(dir)).rejects.toMatchObject({
      code: "input_missing",
      file: join(dir, manifest.frames[4].rgb),
    });

    const { dir: dir2 } = await smallRun(9, 12);
    writeFileSync(join(dir2, manifest.frames[2].depth), readFileSync(join(dir2, manifest.frames[2].rgb)));
    await expect(ingestRun(dir2)).rejects.toMatchObject({
      code: "depth_format",
      message: expect.stringContaining("16-bit greyscale PNG"),
    });

    const { dir: dir3 } = await smallRun(9, 12);
    writeFileSync(join(dir3, "imu.csv"), "t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n0.01,1,2,x,4,5,6\n");
    await expect(ingestRun(dir3)).rejects.toThrow(/imu\.csv: line 3, column "az" is not a number: "x"/);
    writeFileSync(join(dir3, "imu.csv"), "t,ax,ay,az,gx,gy,gz\n0,1,2,3,4,5,6\n0,1,2,3,4,5,6\n");
    await expect(ingestRun(dir3)).rejects.toThrow(/line 3: time must increase strictly/);
    writeFileSync(join(dir3, "imu.csv"), "time,ax\n0,1\n");
    await expect(ingestRun(dir3)).rejects.toMatchObject({ code: "csv_header" });
  });

  it("a bad run writes nothing: no report, no metadata, no journal run", async () => {
    const { dir } = await smallRun(9, 12);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    writeFileSync(join(dir, manifest.frames[6].depth), Buffer.from("not a png"));
    const out = tempDir();
    const config = resolveConfig(
      { runDir: dir, out: join(out, "report.html"), journalHome: join(out, "journal") },
      {},
    );
    await expect(runAudit(config, { env: {} })).rejects.toMatchObject({ code: "image_unknown_format" });
    expect(await readdir(out)).toEqual([]);
  });
});
