import { createHash } from "node:crypto";

/**
 * Feature-hashing vectors: a TEST DOUBLE for embeddings, not a semantic model. Each word and
 * character trigram of the lower-cased text is hashed to a dimension and a sign, and the
 * counts are L2-normalised. Texts that share words get a high cosine similarity, the same
 * text always gets the same vector, and nothing is downloaded or learned.
 */

function features(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = words.map((w) => `w:${w}`);
  for (const word of words) {
    const padded = `_${word}_`;
    for (let i = 0; i + 3 <= padded.length; i++) out.push(`t:${padded.slice(i, i + 3)}`);
  }
  return out;
}

export function featureHashEmbedding(text: string, dimensions: number): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  for (const feature of features(text)) {
    const digest = createHash("sha256").update(feature).digest();
    const index = digest.readUInt32LE(0) % dimensions;
    // Whole words weigh more than trigrams, so exact vocabulary dominates.
    const weight = feature.startsWith("w:") ? 2 : 1;
    vector[index] = (vector[index] as number) + ((digest[4] as number) & 1 ? weight : -weight);
  }
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
  if (norm === 0) {
    // An empty text still gets a valid unit vector.
    vector[0] = 1;
    return vector;
  }
  return vector.map((v) => v / norm);
}
