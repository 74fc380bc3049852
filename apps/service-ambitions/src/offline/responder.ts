import { sha256Hex } from "ballast";
import type { ChatIntent, FakeReply } from "ballast/testing";
import { relevantItems } from "./relevance.ts";

/**
 * Domain answers for the offline model. `ballast/testing`'s local model answers any schema
 * with valid but meaningless JSON; this `respond` hook makes the offline pipeline produce
 * output a reader can judge (features built from the service's jobs and the plateau's
 * themes, mappings chosen by word overlap with the catalogue), still a pure function of
 * the prompt and seed. It reads the JSON context block every prompt carries (see
 * prompts.ts) and answers `undefined` for anything else, which falls back to the built-in
 * answer. It is a stand-in for a model, not a model.
 */

interface Ctx {
  task?: string;
  service?: {
    id: string;
    name: string;
    description: string;
    customer_types: string[];
    jobs_to_be_done: string[];
  };
  plateau?: { level: number; name: string; description: string; themes: string[] };
  customer_type?: string;
  count?: number;
  earlier_features?: string[];
  features?: { feature_id: string; name: string; description: string }[];
  catalogue?: { id: string; name: string; description: string }[];
}

const CONTEXT_BLOCK = /```json\n([\s\S]*?)\n```/;

export function contextOf(promptText: string): Ctx | undefined {
  const match = CONTEXT_BLOCK.exec(promptText);
  if (!match) return undefined;
  try {
    const value = JSON.parse(match[1] as string) as unknown;
    return typeof value === "object" && value !== null ? (value as Ctx) : undefined;
  } catch {
    return undefined;
  }
}

/** A deterministic integer from the seed and some strings. */
function draw(seed: string | number, ...parts: (string | number)[]): number {
  return Number.parseInt(sha256Hex([String(seed), ...parts.map(String)].join("\0")).slice(0, 8), 16);
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

function plural(role: string): string {
  if (/(s|sh|ch|x)$/.test(role)) return `${role}es`;
  if (/[^aeiou]y$/.test(role)) return `${role.slice(0, -1)}ies`;
  return `${role}s`;
}

const LABELS = ["Initial", "Managed", "Defined", "Quantitatively managed", "Optimising"] as const;

const OPENERS = ["relies on", "is built around", "brings together", "is delivered through"];
const OUTCOMES = [
  "with less effort and fewer hand-offs",
  "without waiting for a member of staff",
  "through one consistent journey",
  "at a time that suits them",
];

function describe(ctx: Ctx, seed: string | number): string | undefined {
  const { service, plateau } = ctx;
  if (!service || !plateau) return undefined;
  const n = draw(seed, "describe", service.id, plateau.level);
  const themes = plateau.themes.length > 0 ? plateau.themes : ["established processes"];
  const jobs = service.jobs_to_be_done;
  const j1 = jobs[n % jobs.length] as string;
  const j2 = jobs[(n + 1) % jobs.length] as string;
  const roles = listOf(service.customer_types.map(plural));
  return [
    `At the ${plateau.name} plateau, ${service.name} ${OPENERS[n % OPENERS.length]} ${listOf(themes)}.`,
    `${capital(roles)} can ${j1}${j2 === j1 ? "" : ` and ${j2}`} ${OUTCOMES[Math.floor(n / 8) % OUTCOMES.length]}.`,
    plateau.description,
    `The service's purpose is unchanged: it ${service.description.charAt(0).toLowerCase()}${service.description.slice(1)}`,
  ].join(" ");
}

function features(ctx: Ctx, seed: string | number, count: number): FakeReply | undefined {
  const { service, plateau, customer_type: role } = ctx;
  if (!service || !plateau || !role) return undefined;
  const themes = plateau.themes.length > 0 ? plateau.themes : ["improved processes"];
  const jobs = service.jobs_to_be_done;
  const taken = new Set((ctx.earlier_features ?? []).map((f) => f.toLowerCase()));
  const start = draw(seed, "features", service.id, plateau.level, role);
  const out: {
    name: string;
    description: string;
    score: { level: number; label: string; justification: string };
  }[] = [];
  // Walk theme x job pairs from a seeded start, skipping names used at earlier plateaus.
  for (let k = 0; out.length < count && k < themes.length * jobs.length * 2; k++) {
    const theme = themes[(start + k) % themes.length] as string;
    const job = jobs[(start + k * 7 + (k >> 2)) % jobs.length] as string;
    const name = `${capital(theme)} to ${job}`;
    if (taken.has(name.toLowerCase())) continue;
    taken.add(name.toLowerCase());
    const level = Math.min(5, plateau.level + (Math.floor(start / 2 ** (k % 8)) % 2));
    out.push({
      name,
      description: `Lets each ${role} ${job} using ${theme}, as expected of a service at the ${plateau.name} plateau.`,
      score: {
        level,
        label: LABELS[level - 1] as string,
        justification: `${capital(theme)} is typical of the ${plateau.name} plateau for ${plural(role)}.`,
      },
    });
  }
  return { json: { features: out } };
}

function mappings(ctx: Ctx): FakeReply | undefined {
  const { features: list, catalogue } = ctx;
  if (!list || !catalogue) return undefined;
  return {
    json: {
      mappings: list.map((f) => ({
        feature_id: f.feature_id,
        item_ids: relevantItems(`${f.name} ${f.description}`, catalogue, 3),
      })),
    },
  };
}

/** The `respond` hook of the offline model (also usable as a fake server's responder). */
export function offlineAnswer(intent: ChatIntent, seed: string | number): FakeReply | undefined {
  const ctx = contextOf(intent.promptText);
  if (ctx === undefined) return undefined;
  switch (ctx.task) {
    case "describe":
      return describe(ctx, seed);
    case "features":
      return features(ctx, seed, ctx.count ?? 3);
    case "map":
      return mappings(ctx);
    default:
      return undefined;
  }
}
