import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { sha256Hex } from "ballast";

/**
 * Writes a file whole or not at all: a temporary file in the same folder, fsynced, then
 * renamed over the target. A crash mid-write leaves the previous file (or none), never half
 * of one; the output step can then simply run again on resume.
 */
export function writeFileAtomic(path: string, text: string): { path: string; bytes: number; sha256: string } {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return { path, bytes: Buffer.byteLength(text), sha256: sha256Hex(text) };
}
