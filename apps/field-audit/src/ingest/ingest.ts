import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fingerprint } from "ballast";
import { asInputError, InputError } from "../errors.ts";
import { type ImageHeader, readImageHeader as readHeader } from "../images.ts";
import { type Columns, parseNumericCsv } from "./csv.ts";
import { type Manifest, manifestSchema } from "./manifest.ts";

/**
 * Ingest: reads and validates a whole run before anything else happens. Every file the
 * manifest names is opened, its header checked (sizes, bit depth) without decoding pixels,
 * and hashed; the sensor logs are parsed strictly. The dataset hash covers the bytes of the
 * manifest and of every input file, so two runs hash alike only if their inputs are equal.
 */

export const GPS_COLUMNS = ["t", "lat", "lon", "alt", "hdop", "fix"] as const;
export const IMU_COLUMNS = ["t", "ax", "ay", "az", "gx", "gy", "gz"] as const;

export interface InputFile {
  /** Relative to the run directory. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface RunData {
  dir: string;
  manifest: Manifest;
  gps: Columns<(typeof GPS_COLUMNS)[number]>;
  imu: Columns<(typeof IMU_COLUMNS)[number]>;
  files: InputFile[];
  /** SHA-256 over the manifest and every input file (path + content hash, canonical JSON). */
  datasetHash: string;
}

export async function ingestRun(runDir: string): Promise<RunData> {
  const dir = resolve(runDir);
  const manifestPath = join(dir, "manifest.json");
  const manifestBytes = await readInput(manifestPath, "manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(manifestBytes.toString("utf8"));
  } catch (error) {
    throw new InputError("manifest_json", manifestPath, `it is not valid JSON (${(error as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(
      "manifest_schema",
      manifestPath,
      `${issue.path.length > 0 ? issue.path.join(".") : "(root)"} ${issue.message}`,
    );
  }
  const manifest = parsed.data;
  const files: InputFile[] = [hashOf("manifest.json", manifestBytes)];

  let previous: Manifest["frames"][number] | undefined;
  for (const frame of manifest.frames) {
    if (previous && !(frame.idx > previous.idx)) {
      throw new InputError(
        "manifest_frames",
        manifestPath,
        `frame idx ${frame.idx} does not increase after ${previous.idx}`,
      );
    }
    if (previous && !(frame.t > previous.t)) {
      throw new InputError(
        "manifest_frames",
        manifestPath,
        `frame ${frame.idx}: time ${frame.t} does not increase`,
      );
    }
    previous = frame;
    const rgbPath = join(dir, frame.rgb);
    const rgb = await readInput(rgbPath, frame.rgb);
    const rgbHeader = readImageHeader(rgb, rgbPath);
    if (rgbHeader.width !== manifest.camera.width || rgbHeader.height !== manifest.camera.height) {
      throw new InputError(
        "image_size",
        rgbPath,
        `the frame is ${rgbHeader.width}x${rgbHeader.height}, the manifest says ${manifest.camera.width}x${manifest.camera.height}`,
      );
    }
    const depthPath = join(dir, frame.depth);
    const depth = await readInput(depthPath, frame.depth);
    const depthHeader = readImageHeader(depth, depthPath);
    if (depthHeader.format !== "png" || depthHeader.bitDepth !== 16 || depthHeader.colorType !== 0) {
      throw new InputError("depth_format", depthPath, "depth must be a 16-bit greyscale PNG in millimetres");
    }
    if (depthHeader.width !== manifest.depth.width || depthHeader.height !== manifest.depth.height) {
      throw new InputError(
        "image_size",
        depthPath,
        `the depth image is ${depthHeader.width}x${depthHeader.height}, the manifest says ${manifest.depth.width}x${manifest.depth.height}`,
      );
    }
    files.push(hashOf(frame.rgb, rgb), hashOf(frame.depth, depth));
  }

  const gpsPath = join(dir, manifest.gps);
  const gpsBytes = await readInput(gpsPath, manifest.gps);
  const gps = parseNumericCsv(gpsBytes.toString("utf8"), gpsPath, GPS_COLUMNS, (row, line) =>
    Math.abs(row.lat) > 90 || Math.abs(row.lon) > 180
      ? `line ${line}: latitude/longitude out of range (${row.lat}, ${row.lon})`
      : row.hdop < 0
        ? `line ${line}: hdop must not be negative`
        : undefined,
  );
  const imuPath = join(dir, manifest.imu);
  const imuBytes = await readInput(imuPath, manifest.imu);
  const imu = parseNumericCsv(imuBytes.toString("utf8"), imuPath, IMU_COLUMNS);
  files.push(hashOf(manifest.gps, gpsBytes), hashOf(manifest.imu, imuBytes));

  const datasetHash = fingerprint({ format: manifest.format, files: files.map((f) => [f.path, f.sha256]) });
  return { dir, manifest, gps, imu, files, datasetHash };
}

function readImageHeader(buf: Buffer, file: string): ImageHeader {
  try {
    return readHeader(buf, file);
  } catch (error) {
    throw asInputError(error);
  }
}

async function readInput(path: string, label: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      code === "ENOENT" ? "input_missing" : "input_unreadable",
      path,
      code === "ENOENT" ? `${label} is listed but does not exist` : `it cannot be read (${code})`,
    );
  }
}

function hashOf(path: string, bytes: Buffer): InputFile {
  return { path, sha256: createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
}
