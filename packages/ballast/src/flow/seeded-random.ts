import { createHash, randomBytes } from "node:crypto";

/**
 * A counter-based (keyed) generator: the value for a key is derived from the run's seed and
 * the key alone, SHA-256 acting as the mixing function. Written here rather than taken from
 * a PRNG library because a stateful stream would make each value depend on the order in
 * which concurrent steps draw; keyed values cannot be perturbed by scheduling, so resume,
 * replay and fork see the same numbers even when a recorded value was lost in a crash.
 */

export function newSeed(): string {
  return randomBytes(16).toString("hex");
}

function digest(seed: string, purpose: string, key: string): Buffer {
  return createHash("sha256").update(`${seed}\0${purpose}\0${key}`).digest();
}

/** A float in [0, 1) with 53 random bits. */
export function seededRandom(seed: string, key: string): number {
  const d = digest(seed, "random", key);
  const high = d.readUInt32BE(0) >>> 5; // 27 bits
  const low = d.readUInt32BE(4) >>> 6; // 26 bits
  return (high * 67108864 + low) / 9007199254740992;
}

/** An RFC 9562 version-4-shaped UUID derived from the seed and key. */
export function seededUuid(seed: string, key: string): string {
  const b = digest(seed, "uuid", key).subarray(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
