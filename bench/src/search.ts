// `npm run bench -- search [--queries N]`: ballast/context against Orama and MiniSearch on
// BEIR SciFact (5,183 abstracts), evaluated on the dev claims (SciFact train split, 809
// claims); the standard test claims are held out. Every engine indexes title + abstract as
// one field and gets its best honest configuration: stemming and Lucene's English stop
// words, BM25 parameters picked from a small grid on these same dev claims (as ballast's).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, insertMultiple, load, search as oramaSearch, save } from "@orama/orama";
import { analyze, openContext, STOP_WORDS } from "ballast/context";
import MiniSearch from "minisearch";

// Orama's generic types recurse too deeply for tsc on a widened schema; the bench only
// needs this much of its surface.
type OramaSearch = (db: unknown, params: object) => Promise<{ hits: { id: string }[] }>;
const searchOrama = oramaSearch as unknown as OramaSearch;

const DATA = new URL("../../../shared/data/scifact/", import.meta.url);

interface Doc {
  _id: string;
  title: string;
  text: string;
}
interface Query {
  _id: string;
  text: string;
}

function readJsonl<T>(name: string): T[] {
  return readFileSync(new URL(name, DATA), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as T);
}

function readQrels(): Map<string, Set<string>> {
  const qrels = new Map<string, Set<string>>();
  for (const line of readFileSync(new URL("dev-qrels.tsv", DATA), "utf8").trim().split("\n").slice(1)) {
    const [q, d] = line.split("\t") as [string, string];
    let set = qrels.get(q);
    if (set === undefined) {
      set = new Set();
      qrels.set(q, set);
    }
    set.add(d);
  }
  return qrels;
}

/** nDCG@10 and Recall@100 with binary relevance (the BEIR / trec_eval formulas). */
function evaluate(
  ranked: Map<string, string[]>,
  qrels: Map<string, Set<string>>,
): { ndcg10: number; recall100: number } {
  let ndcg = 0;
  let recall = 0;
  let n = 0;
  for (const [q, rel] of qrels) {
    const ids = ranked.get(q);
    if (ids === undefined) continue;
    n++;
    let dcg = 0;
    ids.slice(0, 10).forEach((id, i) => {
      if (rel.has(id)) dcg += 1 / Math.log2(i + 2);
    });
    let idcg = 0;
    for (let i = 0; i < Math.min(10, rel.size); i++) idcg += 1 / Math.log2(i + 2);
    ndcg += dcg / idcg;
    recall += ids.slice(0, 100).filter((id) => rel.has(id)).length / rel.size;
  }
  return { ndcg10: ndcg / n, recall100: recall / n };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function latency(
  queries: Query[],
  fn: (q: string) => Promise<unknown> | unknown,
): Promise<{ p50: number; p95: number }> {
  for (const q of queries.slice(0, 50)) await fn(q.text);
  const times: number[] = [];
  for (const q of queries) {
    const t0 = performance.now();
    await fn(q.text);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95) };
}

function size(...paths: string[]): number {
  return paths.reduce((sum, p) => {
    try {
      return sum + statSync(p).size;
    } catch {
      return sum;
    }
  }, 0);
}

interface Row {
  engine: string;
  config: string;
  buildMs: number;
  p50: number;
  p95: number;
  ndcg10: number;
  recall100: number;
  bytes: number;
  reopenMs: number;
}

const fmt = (x: number, d = 3) => x.toFixed(d);

export async function run(args: string[]): Promise<void> {
  const limitArg = args.indexOf("--queries");
  const corpus = readJsonl<Doc>("corpus.jsonl");
  const qrels = readQrels();
  let queries = readJsonl<Query>("dev-queries.jsonl").filter((q) => qrels.has(q._id));
  if (limitArg >= 0) queries = queries.slice(0, Number(args[limitArg + 1]));
  const dir = mkdtempSync(join(tmpdir(), "ballast-bench-search-"));
  const rows: Row[] = [];
  console.log(
    `SciFact: ${corpus.length} documents, ${queries.length} dev claims (held-out test claims not used)`,
  );
  try {
    // ballast -------------------------------------------------------------------------
    const dbPath = join(dir, "ballast.db");
    let ctx = await openContext({ path: dbPath });
    let t0 = performance.now();
    const docs = corpus.map((d) => ({ id: d._id, text: `${d.title} ${d.text}` }));
    for (let i = 0; i < docs.length; i += 1000) await ctx.upsert(docs.slice(i, i + 1000));
    const buildMs = performance.now() - t0;
    t0 = performance.now();
    const fit = await ctx.fitLsa({ dimensions: 256 });
    const fitMs = performance.now() - t0;
    console.log(
      `ballast: LSA fitted in ${fmt(fitMs / 1000, 1)} s (${fit.dimensions} dims, ${fit.terms} terms)`,
    );
    const rank = async (strategy: "SPARSE" | "AUTO", extra: object = {}) => {
      const out = new Map<string, string[]>();
      for (const q of queries) {
        const { results } = await ctx.search(q.text, { k: 100, strategy, ...extra });
        out.set(
          q._id,
          results.map((r) => r.id),
        );
      }
      return evaluate(out, qrels);
    };
    const sparse = await rank("SPARSE");
    const hybrid = await rank("AUTO");
    const rrf = await rank("AUTO", { fusion: "rrf", weights: { sparse: 1, dense: 1 } });
    const dense = await (async () => {
      const out = new Map<string, string[]>();
      for (const q of queries) {
        const { results } = await ctx.search(q.text, { k: 100, strategy: "DENSE" });
        out.set(
          q._id,
          results.map((r) => r.id),
        );
      }
      return evaluate(out, qrels);
    })();
    const sparseLat = await latency(queries, (q) => ctx.search(q, { k: 10, strategy: "SPARSE" }));
    const hybridLat = await latency(queries, (q) => ctx.search(q, { k: 10, strategy: "AUTO" }));
    await ctx.close();
    const dbBytes = size(dbPath, `${dbPath}-wal`);
    t0 = performance.now();
    ctx = await openContext({ path: dbPath });
    await ctx.search(queries[0]!.text, { k: 10, strategy: "SPARSE" });
    const reopenMs = performance.now() - t0;
    t0 = performance.now();
    await ctx.search(queries[1]!.text, { k: 10, strategy: "AUTO" });
    const firstHybridMs = performance.now() - t0;
    await ctx.close();
    rows.push({
      engine: "ballast",
      config: "BM25 (SPARSE)",
      buildMs,
      ...sparseLat,
      ...sparse,
      bytes: dbBytes,
      reopenMs,
    });
    rows.push({
      engine: "ballast",
      config: "hybrid convex 0.8·BM25/max + 0.2·LSA cos, top 200",
      buildMs: buildMs + fitMs,
      ...hybridLat,
      ...hybrid,
      bytes: dbBytes,
      reopenMs: reopenMs + firstHybridMs,
    });
    console.log(
      `ballast: RRF (rrf_k 60, equal weights) ndcg10=${fmt(rrf.ndcg10)} recall100=${fmt(rrf.recall100)}; LSA alone (DENSE) ndcg10=${fmt(dense.ndcg10)} recall100=${fmt(dense.recall100)}`,
    );

    // MiniSearch ----------------------------------------------------------------------
    const msOptions = {
      fields: ["text"],
      idField: "id",
      processTerm: (term: string) => {
        const terms = analyze(term);
        return terms.length === 0 ? null : terms;
      },
    };
    t0 = performance.now();
    const mini = new MiniSearch<{ id: string; text: string }>(msOptions);
    mini.addAll(docs);
    const miniBuild = performance.now() - t0;
    let miniBest = { k: 1.2, b: 0.7, d: 0.5, score: { ndcg10: -1, recall100: 0 } };
    for (const k of [1.2, 1.5]) {
      for (const b of [0.4, 0.75]) {
        for (const d of [0, 0.5]) {
          const out = new Map<string, string[]>();
          for (const q of queries) {
            out.set(
              q._id,
              mini
                .search(q.text, { bm25: { k, b, d }, combineWith: "OR" })
                .slice(0, 100)
                .map((r) => String(r.id)),
            );
          }
          const score = evaluate(out, qrels);
          if (score.ndcg10 > miniBest.score.ndcg10) miniBest = { k, b, d, score };
        }
      }
    }
    const miniBm25 = { k: miniBest.k, b: miniBest.b, d: miniBest.d };
    const miniLat = await latency(queries, (q) =>
      mini.search(q, { bm25: miniBm25, combineWith: "OR" }).slice(0, 10),
    );
    const miniPath = join(dir, "minisearch.json");
    writeFileSync(miniPath, JSON.stringify(mini));
    t0 = performance.now();
    const miniReloaded = MiniSearch.loadJSON(readFileSync(miniPath, "utf8"), msOptions);
    miniReloaded.search(queries[0]!.text, { bm25: miniBm25 });
    const miniReopen = performance.now() - t0;
    rows.push({
      engine: "minisearch",
      config: `ballast's analyzer, BM25+ k=${miniBest.k} b=${miniBest.b} d=${miniBest.d}`,
      buildMs: miniBuild,
      ...miniLat,
      ...miniBest.score,
      bytes: size(miniPath),
      reopenMs: miniReopen,
    });

    // Orama ---------------------------------------------------------------------------
    // Orama looks query terms up as prefixes (its radix tree), so "cell" also scores
    // "cellular"; `exact: true` instead drops every document that lacks any raw query word.
    // Its best configuration here is ballast's analyzer with an end-of-term mark ("$"),
    // which makes the prefix lookup exact; its own stemmer is kept as the other candidate.
    const schema = { text: "string" } as const;
    const oramaConfigs = {
      "english stemmer + Lucene stop words": { stemming: true, stopWords: [...STOP_WORDS] },
      "ballast's analyzer, exact terms": undefined,
    };
    let oramaBest:
      | {
          name: string;
          db: unknown;
          tokenizer: unknown;
          build: number;
          rel: { k: number; b: number; d: number };
        }
      | undefined;
    let oramaScore = { ndcg10: -1, recall100: 0 };
    for (const [name, tokenizerConfig] of Object.entries(oramaConfigs)) {
      t0 = performance.now();
      const db = create({
        schema,
        components: {
          tokenizer:
            tokenizerConfig ??
            ({
              language: "english",
              normalizationCache: new Map(),
              tokenize: (raw: string) => analyze(raw).map((t) => `${t}$`),
            } as never),
        },
      });
      await insertMultiple(db, docs, 1000);
      const build = performance.now() - t0;
      for (const k of [1.2, 1.5]) {
        for (const b of [0.4, 0.75]) {
          for (const d of [0, 0.5]) {
            const out = new Map<string, string[]>();
            for (const q of queries) {
              const res = await searchOrama(db, {
                term: q.text,
                limit: 100,
                threshold: 1,
                relevance: { k, b, d },
              });
              out.set(
                q._id,
                res.hits.map((h) => h.id),
              );
            }
            const score = evaluate(out, qrels);
            if (score.ndcg10 > oramaScore.ndcg10) {
              oramaScore = score;
              oramaBest = { name, db, tokenizer: db.tokenizer, build, rel: { k, b, d } };
            }
          }
        }
      }
    }
    const best = oramaBest!;
    const oramaLat = await latency(queries, (q) =>
      searchOrama(best.db, { term: q, limit: 10, threshold: 1, relevance: best.rel }),
    );
    const oramaPath = join(dir, "orama.json");
    writeFileSync(oramaPath, JSON.stringify(save(best.db as never)));
    t0 = performance.now();
    const reloaded = create({ schema, components: { tokenizer: best.tokenizer as never } });
    load(reloaded, JSON.parse(readFileSync(oramaPath, "utf8")));
    await searchOrama(reloaded, { term: queries[0]!.text, limit: 10, threshold: 1, relevance: best.rel });
    const oramaReopen = performance.now() - t0;
    rows.push({
      engine: "orama",
      config: `${best.name}, BM25 k=${best.rel.k} b=${best.rel.b} d=${best.rel.d}`,
      buildMs: best.build,
      ...oramaLat,
      ...oramaScore,
      bytes: size(oramaPath),
      reopenMs: oramaReopen,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log("");
  console.log("engine      build_ms  p50_ms  p95_ms  ndcg@10  recall@100  disk_MB  reopen_ms  config");
  for (const r of rows) {
    console.log(
      `${r.engine.padEnd(10)}  ${fmt(r.buildMs, 0).padStart(8)}  ${fmt(r.p50).padStart(6)}  ${fmt(r.p95).padStart(6)}  ${fmt(r.ndcg10, 4).padStart(7)}  ${fmt(r.recall100, 4).padStart(10)}  ${fmt(r.bytes / 1e6, 1).padStart(7)}  ${fmt(r.reopenMs, 1).padStart(9)}  ${r.config}`,
    );
  }
  console.log(
    "(reopen = open the stored index and answer a first query; ballast hybrid includes its first hybrid query)",
  );
  const bm25 = rows[0]!;
  const hybrid = rows[1]!;
  const peers = rows.filter((r) => r.engine !== "ballast").sort((a, b) => b.ndcg10 - a.ndcg10);
  const peer = peers[0]!;
  console.log(
    `search: ndcg10=${fmt(bm25.ndcg10, 4)} hybrid-ndcg10=${fmt(hybrid.ndcg10, 4)} p50=${fmt(hybrid.p50)} p95=${fmt(hybrid.p95)} best-peer=${peer.engine}:${fmt(peer.ndcg10, 4)}`,
  );
}
