import jpeg from "jpeg-js";
import { PNG } from "pngjs";

/**
 * Image codecs: 16-bit greyscale depth PNGs (pngjs, which keeps all 16 bits with
 * `skipRescale`), JPEG camera frames (jpeg-js), and header readers that validate a file
 * without decoding its pixels, so ingest can check every frame and a warm cache can still
 * skip decoding entirely. This module also runs in depth worker threads, so it imports
 * nothing from ballast; callers turn an `ImageProblem` into an `InputError`.
 */

/** A file that is not the image it should be; `file` is the path, `problem` what is wrong. */
export class ImageProblem extends Error {
  readonly code: string;
  readonly file: string;
  readonly problem: string;
  constructor(code: string, file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ImageProblem";
    this.code = code;
    this.file = file;
    this.problem = problem;
  }
}

export interface ImageHeader {
  format: "png" | "jpeg";
  width: number;
  height: number;
  /** PNG only. */
  bitDepth?: number;
  /** PNG colour type: 0 grey, 2 RGB, 4 grey+alpha, 6 RGBA, 3 palette. */
  colorType?: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes that actually ran in this thread (the warm-cache tests count them). */
export const decodeCounter = { depth: 0 };

export function readImageHeader(buf: Buffer, file: string): ImageHeader {
  if (buf.length >= 24 && buf.subarray(0, 8).equals(PNG_SIGNATURE)) {
    if (buf.toString("latin1", 12, 16) !== "IHDR")
      throw new ImageProblem("image_corrupt", file, "the PNG has no IHDR chunk");
    return {
      format: "png",
      width: buf.readUInt32BE(16),
      height: buf.readUInt32BE(20),
      bitDepth: buf[24]!,
      colorType: buf[25]!,
    };
  }
  if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8)
    return { format: "jpeg", ...jpegSize(buf, file) };
  throw new ImageProblem("image_unknown_format", file, "it is neither a PNG nor a JPEG file");
}

function jpegSize(buf: Buffer, file: string): { width: number; height: number } {
  let i = 2;
  while (i + 4 <= buf.length) {
    if (buf[i] !== 0xff) throw new ImageProblem("image_corrupt", file, `bad JPEG marker at byte ${i}`);
    const marker = buf[i + 1]!;
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01 || marker === 0xff) {
      i += marker === 0xff ? 1 : 2;
      continue;
    }
    const length = buf.readUInt16BE(i + 2);
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > buf.length) break;
      return { height: buf.readUInt16BE(i + 5), width: buf.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  throw new ImageProblem("image_corrupt", file, "the JPEG ends before its frame header (SOF)");
}

export function encodeDepthPng(mm: Uint16Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false });
  // pngjs reads 16-bit input as native-endian words from the buffer's start.
  png.data = Buffer.from(mm.buffer.slice(mm.byteOffset, mm.byteOffset + mm.byteLength));
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 16, inputHasAlpha: false });
}

/** Decodes a 16-bit greyscale PNG into millimetres; anything else is an error naming the file. */
export function decodeDepthPng(
  buf: Buffer,
  file: string,
): { width: number; height: number; mm: Uint16Array } {
  const header = readImageHeader(buf, file);
  if (header.format !== "png" || header.bitDepth !== 16 || header.colorType !== 0) {
    throw new ImageProblem(
      "depth_format",
      file,
      `depth must be a 16-bit greyscale PNG in millimetres, got ${header.format} ${header.bitDepth ?? 8}-bit colour type ${header.colorType ?? "n/a"}`,
    );
  }
  let decoded: { width: number; height: number; data: Buffer | Uint16Array };
  try {
    decoded = PNG.sync.read(buf, { skipRescale: true }) as unknown as typeof decoded;
  } catch (error) {
    throw new ImageProblem("image_corrupt", file, `the PNG does not decode (${(error as Error).message})`);
  }
  decodeCounter.depth++;
  const rgba = decoded.data as Uint16Array;
  const mm = new Uint16Array(decoded.width * decoded.height);
  for (let i = 0; i < mm.length; i++) mm[i] = rgba[i * 4]!;
  return { width: decoded.width, height: decoded.height, mm };
}

export function encodeJpeg(rgba: Uint8Array, width: number, height: number, quality = 85): Buffer {
  return jpeg.encode(
    { data: Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height },
    quality,
  ).data;
}

export function decodeJpeg(buf: Buffer, file: string): { width: number; height: number; data: Uint8Array } {
  try {
    return jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 256 });
  } catch (error) {
    throw new ImageProblem("image_corrupt", file, `the JPEG does not decode (${(error as Error).message})`);
  }
}
