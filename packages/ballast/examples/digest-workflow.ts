import { setTimeout as sleep } from "node:timers/promises";
import { defineWorkflow } from "ballast";

/**
 * An example workflow: build a digest of a reading list. Each article is "fetched" (an
 * external effect, so replay serves it from the journal) and summarised; then the digest is
 * composed. Every step prints when its code really runs, so a resumed run shows that
 * journaled steps were not run again.
 */

export interface Article {
  id: string;
  title: string;
  body: string;
}

// The demo's child processes report each step that really runs (DIGEST_REPORT=1).
const announce = (line: string) => {
  if (process.env["DIGEST_REPORT"] === "1") process.stdout.write(`${JSON.stringify({ ran: line })}\n`);
};

function summarise(article: Article): string {
  const sentences = article.body.split(/(?<=\.)\s+/);
  const words = article.body.toLowerCase().match(/[a-z]{5,}/g) ?? [];
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const keywords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([w]) => w);
  return `${sentences[0] ?? ""} [${keywords.join(", ")}]`;
}

export const digest = defineWorkflow({
  name: "digest",
  version: "1",
  retry: { maxAttempts: 3, baseMs: 20, maxMs: 200 },
  run: async (ctx, articles: Article[]) => {
    const summaries = await ctx.map(
      articles,
      async (article) => {
        const fetched = await ctx.step(
          "fetch",
          async ({ signal }) => {
            await sleep(60, undefined, { signal }); // stands in for a network call
            announce(`fetch ${article.id}`);
            return { id: article.id, title: article.title, body: article.body };
          },
          { sideEffect: true },
        );
        return ctx.step("summarise", () => {
          announce(`summarise ${article.id}`);
          return { id: fetched.id, title: fetched.title, summary: summarise(fetched) };
        });
      },
      { concurrency: 2 },
    );
    const editedAt = new Date(ctx.now()).toISOString();
    return ctx.step("compose", () => {
      announce("compose");
      return {
        editedAt,
        items: summaries.length,
        digest: summaries.map((s) => `- ${s.title}: ${s.summary}`).join("\n"),
      };
    });
  },
});
