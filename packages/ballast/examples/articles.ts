import type { Article } from "./digest-workflow.ts";

const topics = [
  [
    "Durable execution",
    "A durable workflow writes every step to a journal before it acknowledges it. When the process dies, the journal tells the next process which steps already happened. Resumption re-executes the workflow and serves completed steps from the journal.",
  ],
  [
    "Idempotency keys",
    "An idempotency key lets the receiving system recognise a repeated request. Payment processors store each key and apply it once. A step that died mid-effect can safely run again with the same key.",
  ],
  [
    "Group commit",
    "Group commit batches concurrent writes into one transaction. One fsync then covers many events, so parallel steps pay for durability together. Throughput rises while every acknowledged event stays durable.",
  ],
  [
    "Hash chains",
    "Each journal event carries the hash of the event before it. Changing any stored event breaks every later link of the chain. Verification recomputes the hashes and names the first broken event.",
  ],
  [
    "Deterministic replay",
    "Replay re-executes a finished run against its journal. Effects are served from the journal, so no network is needed. A replay that takes a different path reports a divergence.",
  ],
  [
    "Retries with jitter",
    "Exponential backoff spreads retries over time. Full jitter picks a random delay below the cap, which avoids synchronised retry storms. A maximum number of attempts bounds the work.",
  ],
  [
    "Budgets",
    "A budget limits tokens, cost, steps and wall time for a run. In soft mode the runtime warns; in enforce mode it stops the run politely. Reservations are taken before each call and reconciled after.",
  ],
  [
    "Rate limits",
    "Providers limit requests and tokens per minute. A sliding window limiter admits calls only when capacity exists. Reserving estimated tokens at admission prevents overruns.",
  ],
  [
    "Circuit breakers",
    "A circuit breaker stops calling a failing provider for a cool-down period. After the cool-down a single probe decides whether to close the circuit again. Fallback models answer meanwhile.",
  ],
  [
    "Content addressing",
    "Content addressing names data by its hash. Identical payloads are stored once, and every read can verify integrity. Corrupt entries are detected instead of served.",
  ],
  [
    "Time travel",
    "The journal records every state change in order. Folding events up to a chosen position reconstructs the state at that moment. Forking from that position starts a new run with the old history.",
  ],
  [
    "Fail-closed policy",
    "A fail-closed policy denies everything when its rules are missing or invalid. Explicit denials win over allows. Every decision is written to an audit chain.",
  ],
] as const;

export const articles: Article[] = topics.map(([title, body], i) => ({
  id: `a${String(i + 1).padStart(2, "0")}`,
  title,
  body,
}));
