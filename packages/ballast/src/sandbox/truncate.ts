/**
 * Bounded capture of a child's output. Counts every byte, keeps at most `maxBytes`, and
 * when it had to drop some, cuts at a UTF-8 character boundary (never inside a multi-byte
 * sequence) and appends `[TRUNCATED at N bytes]`, N being the cap. Invalid UTF-8 becomes
 * U+FFFD deterministically (TextDecoder's replacement rule).
 */

export function truncationMarker(maxBytes: number): string {
  return `[TRUNCATED at ${maxBytes} bytes]`;
}

/** The largest cut ≤ `limit` that does not split a UTF-8 sequence of `bytes`. */
export function utf8Boundary(bytes: Uint8Array, limit: number): number {
  if (limit >= bytes.length) return bytes.length;
  // Find the lead byte of the last sequence that starts before the cut (at most 3 back).
  for (let j = limit - 1; j >= 0 && j >= limit - 4; j--) {
    const byte = bytes[j] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    // An incomplete multi-byte sequence is dropped whole; anything else (ASCII, or stray
    // continuation bytes that are invalid anyway) is cut where the limit falls.
    return j + length > limit ? j : limit;
  }
  return limit;
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Decodes `bytes`, truncated to `maxBytes` at a character boundary with the marker. */
export function decodeTruncated(bytes: Uint8Array, maxBytes: number, totalBytes = bytes.length): string {
  if (totalBytes <= maxBytes && bytes.length <= maxBytes) return decoder.decode(bytes);
  const cut = utf8Boundary(bytes, maxBytes);
  const head = decoder.decode(bytes.subarray(0, cut));
  return `${head}${head === "" || head.endsWith("\n") ? "" : "\n"}${truncationMarker(maxBytes)}`;
}

export class OutputCapture {
  readonly maxBytes: number;
  #chunks: Buffer[] = [];
  #kept = 0;
  #total = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    // Keep a few bytes past the cap so the boundary search can see the whole character.
    const room = this.maxBytes + 4 - this.#kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#chunks.push(part);
    this.#kept += part.length;
  }

  get totalBytes(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.maxBytes;
  }

  text(): string {
    return decodeTruncated(Buffer.concat(this.#chunks), this.maxBytes, this.#total);
  }
}
