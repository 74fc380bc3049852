/**
 * Word-overlap relevance for the offline mapper: the catalogue items that share the most
 * informative words (IDF-weighted over the catalogue) with a feature. Small on purpose; the
 * real mapping is a model's job.
 */

const STOP = new Set(
  (
    "a an and are as at be by can each for from has have in into is it its of on or our so that the their them " +
    "this to was with without lets using use used expected service services plateau customer customers " +
    "through across all any one more most new own per via when where who will while"
  ).split(" "),
);

function stem(word: string): string {
  if (word.length > 5 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 5 && word.endsWith("ing")) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

export function terms(text: string): Set<string> {
  const out = new Set<string>();
  for (const raw of text.toLowerCase().match(/[a-z][a-z0-9-]+/g) ?? []) {
    for (const part of raw.split("-")) {
      if (part.length < 3 || STOP.has(part)) continue;
      out.add(stem(part));
    }
  }
  return out;
}

/** Ids of up to `k` items sharing informative words with `text`, best first (ties by id). */
export function relevantItems(
  text: string,
  items: readonly { id: string; name: string; description: string }[],
  k: number,
  minScore = 2.2,
): string[] {
  const docs = items.map((item) => ({
    id: item.id,
    name: terms(item.name),
    all: terms(`${item.name} ${item.description}`),
  }));
  const df = new Map<string, number>();
  for (const doc of docs) for (const t of doc.all) df.set(t, (df.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log((docs.length + 1) / ((df.get(t) ?? 0) + 0.5));
  const query = terms(text);
  const scored = docs
    .map((doc) => {
      let score = 0;
      // Words in the item's name count double: names say what an item is for.
      for (const t of query) if (doc.all.has(t)) score += idf(t) * (doc.name.has(t) ? 2 : 1);
      return { id: doc.id, score };
    })
    .filter((s) => s.score >= minScore)
    .sort((a, b) => b.score - a.score || a.id.localeCompare(b.id));
  // Drop the weak tail: an item far behind the best match shares only an incidental word.
  const best = scored[0]?.score ?? 0;
  return scored
    .filter((s) => s.score >= best * 0.45)
    .slice(0, k)
    .map((s) => s.id);
}
