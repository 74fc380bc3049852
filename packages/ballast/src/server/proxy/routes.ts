import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { ServerResponse } from "node:http";
import type { LanguageModelV4, LanguageModelV4CallOptions, LanguageModelV4Usage } from "@ai-sdk/provider";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { JsonValue } from "../../canonical.ts";
import type { Workflow } from "../../flow/types.ts";
import { defineWorkflow } from "../../flow/workflow.ts";
import { ModelLayer } from "../../models/layer.ts";
import type { ModelLayerOptions } from "../../models/options.ts";
import type { Dispatcher } from "../dispatcher.ts";
import { envelopeOf, ServerError } from "../errors.ts";
import { httpMeta, sendError } from "../http/respond.ts";
import { resource } from "../http/rest-routes.ts";
import type { CallContext } from "../operations.ts";
import { DEFAULT_TENANT } from "../tokens.ts";
import {
  type ChatRequest,
  type CompletionIds,
  chunkBody,
  completionBody,
  finishReasonOf,
  parseChatRequest,
  textOfResult,
  toCallOptions,
  usageOf,
} from "./openai-wire.ts";

/**
 * The OpenAI-compatible proxy: `POST /v1/chat/completions` (JSON and SSE) and
 * `GET /v1/models`. The API key is a server token; each key gets its own model layer, so
 * cache, limits, fallbacks, budgets and cost accounting apply per key. Each call runs as a
 * journaled run of the internal workflow `ballast.proxy.chat` under the key's tenant, so
 * its `model.called` event (request hash, usage, cost, cache hit) is in the journal and the
 * call shows up in `GET /v1/runs`.
 */

export interface ProxyModel {
  model: LanguageModelV4;
  /** Tried in order when `model` fails for good. */
  fallbacks?: LanguageModelV4[];
  /** The model layer stage (for stage budgets and cache TTLs). */
  stage?: string;
}

export interface ProxyOptions {
  /** The model names clients may ask for, and what answers each. */
  models: Record<string, LanguageModelV4 | ProxyModel>;
  /** Layer options every key starts from; a cache `path` containing `{key}` gives each key its own cache file. */
  layer?: ModelLayerOptions;
  /** Layer options per token id, over `layer` (budgets, limits, ...). */
  keys?: Record<string, ModelLayerOptions>;
  /** Journal each call as a run (default true). */
  journal?: boolean;
}

const PROXY_WORKFLOW = "ballast.proxy.chat";

interface PendingCall {
  invoke(): Promise<JsonValue>;
}

function isProxyModel(value: LanguageModelV4 | ProxyModel): value is ProxyModel {
  return typeof (value as ProxyModel).model === "object" && !("specificationVersion" in value);
}

function layerOptionsFor(options: ProxyOptions, key: string): ModelLayerOptions {
  const merged: ModelLayerOptions = { ...options.layer, ...options.keys?.[key] };
  const cache = merged.cache;
  if (cache && typeof cache === "object" && "path" in cache && typeof cache.path === "string") {
    merged.cache = { ...cache, path: cache.path.replaceAll("{key}", key) } as ModelLayerOptions["cache"];
  }
  return merged;
}

/** One model layer per API key, made on first use. */
class KeyedModels {
  readonly #options: ProxyOptions;
  readonly #layers = new Map<string, { layer: ModelLayer; models: Map<string, LanguageModelV4> }>();

  constructor(options: ProxyOptions) {
    this.#options = options;
  }

  names(): string[] {
    return Object.keys(this.#options.models).sort();
  }

  model(key: string, name: string): LanguageModelV4 {
    const config = this.#options.models[name];
    if (config === undefined) {
      throw new ServerError(
        "not_found",
        `The model "${name}" is not served by this proxy; GET /v1/models lists the ones that are.`,
      );
    }
    let entry = this.#layers.get(key);
    if (entry === undefined) {
      entry = { layer: new ModelLayer(layerOptionsFor(this.#options, key)), models: new Map() };
      this.#layers.set(key, entry);
    }
    let model = entry.models.get(name);
    if (model === undefined) {
      const target = isProxyModel(config) ? config : { model: config };
      model = entry.layer.wrap(target.model, {
        ...(target.fallbacks === undefined ? {} : { fallbacks: target.fallbacks }),
        ...(target.stage === undefined ? {} : { stage: target.stage }),
      });
      entry.models.set(name, model);
    }
    return model;
  }

  /** The model layer of a key (its cost summary, breakers, limiters), once it has been used. */
  layer(key: string): ModelLayer | undefined {
    return this.#layers.get(key)?.layer;
  }

  close(): void {
    for (const { layer } of this.#layers.values()) layer.close();
    this.#layers.clear();
  }
}

export interface ProxyHandle {
  /** The model layer serving a token id, once it has made a call. */
  layer(tokenId: string): ModelLayer | undefined;
}

export async function registerProxy(
  app: FastifyInstance,
  dispatcher: Dispatcher,
  options: ProxyOptions,
): Promise<ProxyHandle> {
  const models = new KeyedModels(options);
  const journal = options.journal ?? true;
  const pending = new Map<string, PendingCall>();
  const workflow = defineWorkflow({
    name: PROXY_WORKFLOW,
    version: "1",
    run: async (ctx) => {
      const call = pending.get(ctx.runId);
      if (call === undefined) {
        // A proxy call lives only as long as its HTTP request; it cannot be resumed later.
        throw new ServerError(
          "failed_precondition",
          `Proxy call ${ctx.runId} was interrupted and cannot be resumed.`,
        );
      }
      return call.invoke();
    },
  }) as unknown as Workflow<never, unknown>;
  const engine = dispatcher.deps.engine;
  if (journal && engine.workflows.get(PROXY_WORKFLOW, "1") === undefined) engine.register(workflow);
  app.addHook("onClose", async () => models.close());

  /** Runs `invoke` as a journaled run (or directly when journaling is off). */
  const execute = async (
    ctx: CallContext,
    request: ChatRequest,
    invoke: () => Promise<JsonValue>,
    onId?: (id: string) => void,
  ): Promise<{ id: string; done: Promise<JsonValue> }> => {
    const runId = `proxy-${randomUUID()}`;
    const id = `chatcmpl-${runId}`;
    onId?.(id);
    if (!journal) return { id, done: invoke() };
    pending.set(runId, { invoke });
    try {
      const handle = await engine.start(
        workflow as unknown as Workflow<JsonValue, JsonValue>,
        { model: request.model, key: ctx.principal.tokenId, stream: request.stream === true },
        { runId, tenant: ctx.tenant ?? DEFAULT_TENANT },
      );
      return { id, done: handle.result().finally(() => pending.delete(runId)) as Promise<JsonValue> };
    } catch (error) {
      pending.delete(runId);
      throw error;
    }
  };

  resource(app, "/v1/models", {
    GET: async (request, reply) => {
      const outcome = await dispatcher.admit(
        "proxy.models",
        { action: "models.read", path: "models" },
        {},
        httpMeta(request),
      );
      if (!outcome.ok) return sendError(reply, outcome.error, outcome.traceId);
      return reply.header("x-trace-id", outcome.traceId).send({
        object: "list",
        data: models.names().map((id) => ({ id, object: "model", created: 0, owned_by: "ballast" })),
      });
    },
  });

  resource(app, "/v1/chat/completions", {
    POST: async (request, reply) => chatCompletion(request, reply),
  });

  async function chatCompletion(request: FastifyRequest, reply: FastifyReply) {
    const body = request.body as { model?: unknown } | undefined;
    const name = typeof body?.model === "string" ? body.model : "";
    const controller = new AbortController();
    // The response closing before it finished means the client went away: stop the call.
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const outcome = await dispatcher.admit(
      "proxy.chat",
      { action: "models.call", path: `models/${name || "unknown"}` },
      body,
      httpMeta(request, controller.signal),
    );
    if (!outcome.ok) return sendError(reply, outcome.error, outcome.traceId);
    const { ctx, traceId } = outcome;
    let chat: ChatRequest;
    let model: LanguageModelV4;
    let call: LanguageModelV4CallOptions;
    try {
      chat = parseChatRequest(body);
      model = models.model(ctx.principal.tokenId, chat.model);
      call = toCallOptions(chat, controller.signal);
    } catch (error) {
      return sendError(reply, dispatcher.failed("proxy.chat", "http", error, traceId).error, traceId);
    }
    const created = Math.floor(Date.now() / 1000);
    if (chat.stream !== true) {
      try {
        let answer: { text: string; finishReason: string; usage: ReturnType<typeof usageOf> } | undefined;
        const { id, done } = await execute(ctx, chat, async () => {
          const result = await model.doGenerate(call);
          answer = {
            text: textOfResult(result),
            finishReason: finishReasonOf(result.finishReason),
            usage: usageOf(result.usage),
          };
          return answer as unknown as JsonValue;
        });
        await done;
        const { text, finishReason, usage } = answer!;
        return reply
          .header("x-trace-id", traceId)
          .send(completionBody({ id, created, model: chat.model }, text, finishReason, usage));
      } catch (error) {
        return sendError(reply, dispatcher.failed("proxy.chat", "http", error, traceId).error, traceId);
      }
    }
    return streamCompletion(reply, ctx, chat, model, call, created, traceId, controller);
  }

  async function streamCompletion(
    reply: FastifyReply,
    ctx: CallContext,
    chat: ChatRequest,
    model: LanguageModelV4,
    call: LanguageModelV4CallOptions,
    created: number,
    traceId: string,
    controller: AbortController,
  ) {
    const raw = reply.raw as ServerResponse;
    let ids: CompletionIds | undefined;
    let opened = false;
    const write = async (data: unknown) => {
      if (controller.signal.aborted) return;
      if (!raw.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`)) {
        await Promise.race([once(raw, "drain"), once(controller.signal, "abort")]);
      }
    };
    const open = () => {
      if (opened) return;
      opened = true;
      reply.hijack();
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        if (value !== undefined) raw.setHeader(name, value as string);
      }
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-trace-id": traceId,
      });
    };
    try {
      const { done } = await execute(
        ctx,
        chat,
        async () => {
          const { stream } = await model.doStream(call);
          // The first part is here: the call was admitted (budget, limits, breaker), so the
          // 200 can go out; failures from now on are sent as an error frame.
          open();
          let text = "";
          let usage: LanguageModelV4Usage | undefined;
          let finish = "stop";
          const reader = stream.getReader();
          await write(chunkBody(ids!, { role: "assistant", content: "" }, null));
          for (;;) {
            const { done: finished, value } = await reader.read();
            if (finished) break;
            if (value.type === "text-delta") {
              text += value.delta;
              await write(chunkBody(ids!, { content: value.delta }, null));
            } else if (value.type === "finish") {
              usage = value.usage;
              finish = finishReasonOf(value.finishReason);
            } else if (value.type === "error") {
              throw value.error;
            }
          }
          await write(chunkBody(ids!, {}, finish));
          if (chat.stream_options?.include_usage === true)
            await write(chunkBody(ids!, null, null, usageOf(usage)));
          return { text, finishReason: finish, usage: usageOf(usage) } as unknown as JsonValue;
        },
        (runIdBased) => {
          ids = { id: runIdBased, created, model: chat.model };
        },
      );
      await done;
      await write("[DONE]");
    } catch (error) {
      const failure = dispatcher.failed("proxy.chat", "http", error, traceId).error;
      if (!opened) return sendError(reply, failure, traceId);
      await write({ error: envelopeOf(failure, traceId).error });
    } finally {
      if (opened && !raw.writableEnded) raw.end();
    }
    return reply;
  }

  return { layer: (tokenId) => models.layer(tokenId) };
}
