import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { type JsonValue, sha256Hex } from "../canonical.ts";
import { ValidationError } from "../errors.ts";
import { BlobCorruptError, BlobMissingError } from "./errors.ts";
import type { BlobStore } from "./types.ts";

/**
 * Content-addressed blob store on the file system: each blob is a file named by the
 * SHA-256 of its bytes, under `<dir>/ab/cdef...`. Written once (temp file, fsync, rename,
 * so a crash never leaves a half-written blob under its final name), deduplicated by name,
 * and verified on every read. Small enough to own rather than pull in a library.
 */

const SHA256_RE = /^[0-9a-f]{64}$/;

export interface FileBlobStoreOptions {
  dir: string;
  /** `full` fsyncs each new blob and its folder before `put` resolves. */
  durability?: "full" | "normal";
}

export class FileBlobStore implements BlobStore {
  readonly dir: string;
  readonly #fsync: boolean;

  constructor(options: FileBlobStoreOptions) {
    this.dir = options.dir;
    this.#fsync = (options.durability ?? "full") === "full";
  }

  /** Where the blob `sha256` lives (whether or not it exists). */
  pathOf(sha256: string): string {
    checkId(sha256);
    return join(this.dir, sha256.slice(0, 2), sha256.slice(2));
  }

  async put(data: string | Uint8Array): Promise<string> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    const sha256 = sha256Hex(bytes);
    const path = this.pathOf(sha256);
    const existing = await stat(path).catch(() => undefined);
    // Same name and same size: already stored. A corrupt copy of the same size is caught by `get`.
    if (existing?.size === bytes.byteLength) return sha256;

    const folder = join(this.dir, sha256.slice(0, 2));
    await mkdir(folder, { recursive: true });
    const temp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(bytes);
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    if (this.#fsync) await syncFolder(folder);
    return sha256;
  }

  async get(sha256: string): Promise<Buffer> {
    const path = this.pathOf(sha256);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new BlobMissingError(sha256, path);
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) throw new BlobCorruptError(sha256, path, actual);
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    const found = await stat(this.pathOf(sha256)).catch(() => undefined);
    return found?.isFile() === true;
  }
}

/** Makes a rename durable: the folder entry itself must reach the disk. */
async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function checkId(sha256: string): void {
  if (!SHA256_RE.test(sha256)) {
    throw new ValidationError(
      "invalid_blob_id",
      `"${sha256}" is not a blob id: blob ids are 64 lowercase hex characters (a SHA-256), as returned by blobs.put().`,
      { sha256 },
    );
  }
}

/**
 * How events point at blobs: `{ "$blob": "<sha256>", "size": <bytes> }` anywhere in an
 * event's data. `verify` checks that every blob so referenced exists and is intact.
 */
// A type alias, not an interface, so a BlobRef is assignable to JsonValue.
export type BlobRef = { $blob: string; size: number };

export function blobRef(sha256: string, size: number): BlobRef {
  return { $blob: sha256, size };
}

export function isBlobRef(value: unknown): value is BlobRef {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { $blob?: unknown }).$blob === "string" &&
    SHA256_RE.test((value as { $blob: string }).$blob)
  );
}

/** Every blob id referenced from a JSON value, in document order. */
export function collectBlobRefs(value: JsonValue, into: string[] = []): string[] {
  if (typeof value !== "object" || value === null) return into;
  if (Array.isArray(value)) {
    for (const item of value) collectBlobRefs(item, into);
    return into;
  }
  if (isBlobRef(value)) {
    into.push(value.$blob);
    return into;
  }
  for (const key in value) collectBlobRefs(value[key] as JsonValue, into);
  return into;
}
