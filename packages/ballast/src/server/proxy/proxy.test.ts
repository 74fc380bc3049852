import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../../testing/anthropic-fake.ts";
import type { FakeServer } from "../../testing/fake-server.ts";
import { createLocalModel } from "../../testing/local-model.ts";
import { startFakeOpenAI } from "../../testing/openai-fake.ts";
import type { BallastServer } from "../server.ts";
import { type Fixture, fixture, serverFor, TOKENS } from "../test-harness.ts";

/**
 * The OpenAI-compatible proxy, driven by the official `openai` npm client, in front of the
 * fake OpenAI and Anthropic servers from `ballast/testing`, over 127.0.0.1.
 */

let fx: Fixture;
let openaiFake: FakeServer;
let anthropicFake: FakeServer;
let server: BallastServer;
let baseURL: string;

const client = (token: string) => new OpenAI({ apiKey: token, baseURL, maxRetries: 0 });

beforeAll(async () => {
  fx = await fixture();
  openaiFake = await startFakeOpenAI({ seed: 1 });
  anthropicFake = await startFakeAnthropic({ seed: 1 });
  const primary = createOpenAI({ baseURL: openaiFake.baseURL, apiKey: "sk-fake-openai" }).chat("gpt-4o-mini");
  const fallback = createAnthropic({
    baseURL: anthropicFake.baseURL,
    apiKey: "sk-fake-anthropic",
  }).languageModel("claude-3-5-haiku-latest");
  server = await serverFor(fx, {
    auth: true,
    rateLimit: false,
    proxy: {
      models: {
        "gpt-4o-mini": {
          model: primary as unknown as LanguageModelV4,
          fallbacks: [fallback as unknown as LanguageModelV4],
          stage: "chat",
        },
        local: createLocalModel({ modelId: "local" }),
      },
      layer: { cache: { path: `${fx.home}/proxy-cache-{key}.db` }, retry: { maxRetries: 0 } },
      keys: { root: { budget: { tokens: 5 } } },
    },
  });
  baseURL = `${(await server.listen()).url}/v1`;
});

beforeEach(() => {
  openaiFake.reset();
  anthropicFake.reset();
});

afterAll(async () => {
  await server.close();
  await openaiFake.close();
  await anthropicFake.close();
  await fx.close();
});

describe("GET /v1/models", () => {
  it("lists the proxied models to the official client", async () => {
    const models = await client(TOKENS.alice).models.list();
    expect(models.data.map((m) => m.id)).toEqual(["gpt-4o-mini", "local"]);
  });
});

describe("POST /v1/chat/completions", () => {
  it("answers through the model layer, caches per key, and journals each call as a run", async () => {
    const ask = () =>
      client(TOKENS.alice).chat.completions.create({
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "What is a journal?" },
        ],
        temperature: 0,
        max_tokens: 64,
      });
    const first = await ask();
    expect(first.object).toBe("chat.completion");
    expect(first.id).toMatch(/^chatcmpl-proxy-/);
    expect(first.model).toBe("gpt-4o-mini");
    expect(first.choices[0]!.message.content).toEqual(expect.any(String));
    expect(first.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(first.choices[0]!.finish_reason).toBe("stop");
    expect(first.usage!.total_tokens).toBe(first.usage!.prompt_tokens + first.usage!.completion_tokens);
    expect(openaiFake.requests).toHaveLength(1);
    const sent = openaiFake.requests[0]!.body as { messages: { role: string }[]; max_tokens?: number };
    expect(sent.messages.map((m) => m.role)).toEqual(["system", "user"]);

    const second = await ask();
    expect(second.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
    expect(openaiFake.requests).toHaveLength(1);

    const runs = await fx.journal.listRuns({ workflow: "ballast.proxy.chat" });
    const mine = runs.filter((r) => first.id.endsWith(r.id) || second.id.endsWith(r.id));
    expect(mine).toHaveLength(2);
    expect(mine.every((r) => r.status === "completed" && r.tenant === "acme")).toBe(true);
    const called = [];
    for (const run of mine) {
      called.push(...(await fx.journal.readEvents(run.id)).filter((e) => e.type === "model.called"));
    }
    expect(called.map((e) => (e.data as { cacheHit: boolean }).cacheHit).sort()).toEqual([false, true]);
  });

  it("streams chunks the official client assembles, with a usage chunk", async () => {
    const stream = await client(TOKENS.alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream a haiku about durable runs." }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      expect(chunk.object).toBe("chat.completion.chunk");
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text.length).toBeGreaterThan(0);
    expect(finish).toBe("stop");
    expect(usage!.completion_tokens).toBeGreaterThan(0);
    const again = await client(TOKENS.alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Stream a haiku about durable runs." }],
    });
    expect(again.choices[0]!.message.content).toBe(text);
  });

  it("falls back to the next provider when the first fails", async () => {
    openaiFake.script({ status: 400, times: 5 });
    const answer = await client(TOKENS.alice).chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "fallback please" }],
    });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(openaiFake.requests.length).toBeGreaterThan(0);
    expect(anthropicFake.requests).toHaveLength(1);
  });

  it("keeps each key's budget apart", async () => {
    // root's layer has a 5-token budget; alice's has none.
    const refused = client(TOKENS.root).chat.completions.create({
      model: "local",
      messages: [{ role: "user", content: "a question that needs more than five tokens to answer" }],
    });
    await expect(refused).rejects.toMatchObject({ status: 429, code: "budget_exceeded" });
    const fine = await client(TOKENS.alice).chat.completions.create({
      model: "local",
      messages: [{ role: "user", content: "a question that needs more than five tokens to answer" }],
    });
    expect(fine.choices[0]!.message.content!.length).toBeGreaterThan(0);
  });

  it("refuses bad keys, missing grants, unknown models and unsupported features with the envelope", async () => {
    await expect(client("not-a-key").models.list()).rejects.toMatchObject({
      status: 401,
      code: "unauthorized",
    });
    await expect(
      client(TOKENS.bob).chat.completions.create({
        model: "local",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 403, code: "forbidden" });
    await expect(
      client(TOKENS.alice).chat.completions.create({
        model: "gpt-9",
        messages: [{ role: "user", content: "hi" }],
      }),
    ).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(
      client(TOKENS.alice).chat.completions.create({
        model: "local",
        messages: [{ role: "user", content: "hi" }],
        tools: [{ type: "function", function: { name: "f", parameters: {} } }],
      }),
    ).rejects.toMatchObject({ status: 501, code: "not_implemented" });
    await expect(
      client(TOKENS.alice).chat.completions.create({ model: "local", messages: [] }),
    ).rejects.toMatchObject({ status: 400, code: "invalid_argument" });
    await expect(
      client(TOKENS.alice).chat.completions.create({
        model: "local",
        messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://x/y.png" } }] }],
      }),
    ).rejects.toMatchObject({ status: 501 });
  });
});
