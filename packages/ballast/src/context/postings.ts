import { endianness } from "node:os";

/**
 * Posting lists are stored as blobs of little-endian uint32 triples (row id, term frequency,
 * row length in terms). One blob read per query term is what keeps a query near 0.1 ms:
 * reading postings row by row (or through fts5vocab) costs ~1 ms a query on SciFact.
 * Rows are immutable, so a posting never changes once written; new rows append.
 */
export const POSTING_WIDTH = 3;

/** Postings of one term per stored segment; a full segment is never rewritten. */
export const SEGMENT_CAPACITY = 4096;

const LITTLE_ENDIAN = endianness() === "LE";

export function encodePostings(values: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN)
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  return portableBytes(values);
}

export function decodePostings(bytes: Uint8Array): Uint32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }
  return portableRead(bytes, new Uint32Array(bytes.byteLength >>> 2)) as Uint32Array;
}

/** Float32 vectors as little-endian blobs. */
export function encodeVector(vector: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN)
    return new Uint8Array(vector.buffer.slice(vector.byteOffset, vector.byteOffset + vector.byteLength));
  return portableBytes(vector);
}

export function decodeVector(bytes: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  }
  return portableRead(bytes, new Float32Array(bytes.byteLength >>> 2)) as Float32Array;
}

/** Little-endian bytes on any host (the slow path, for big-endian hosts). */
export function portableBytes(values: Uint32Array | Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  const float = values instanceof Float32Array;
  for (let i = 0; i < values.length; i++) {
    if (float) view.setFloat32(i * 4, values[i]!, true);
    else view.setUint32(i * 4, values[i]!, true);
  }
  return out;
}

/** Reads little-endian bytes at any alignment into `out`. */
export function portableRead(bytes: Uint8Array, out: Uint32Array | Float32Array): Uint32Array | Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const float = out instanceof Float32Array;
  for (let i = 0; i < out.length; i++)
    out[i] = float ? view.getFloat32(i * 4, true) : view.getUint32(i * 4, true);
  return out;
}
