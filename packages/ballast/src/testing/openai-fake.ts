import {
  type Dialect,
  type FakeServer,
  type FakeServerOptions,
  type Route,
  startFakeServer,
} from "./fake-server.ts";
import { handleChatCompletions } from "./openai-chat.ts";
import { handleEmbeddings } from "./openai-embeddings.ts";
import { handleResponses } from "./openai-responses.ts";
import { hashHex } from "./seeded-random.ts";

/**
 * A fake OpenAI API: chat completions, responses, models and embeddings, speaking the real
 * wire protocol (JSON and SSE) with `x-request-id` headers and OpenAI-shaped errors.
 */

const ERRORS: Record<number, { type: string; code: string | null; message: string }> = {
  400: { type: "invalid_request_error", code: null, message: "Invalid request." },
  401: { type: "invalid_request_error", code: "invalid_api_key", message: "Incorrect API key provided." },
  403: { type: "invalid_request_error", code: "unsupported_country_region_territory", message: "Forbidden." },
  404: { type: "invalid_request_error", code: "model_not_found", message: "The model does not exist." },
  408: { type: "server_error", code: "timeout", message: "Request timed out." },
  409: { type: "server_error", code: "conflict", message: "Conflict with another request, please retry." },
  429: {
    type: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests. Please try again later.",
  },
  500: {
    type: "server_error",
    code: "server_error",
    message: "The server had an error while processing your request. Sorry about that!",
  },
  502: { type: "server_error", code: "bad_gateway", message: "Bad gateway." },
  503: {
    type: "server_error",
    code: "service_unavailable",
    message: "The engine is currently overloaded, please try again later.",
  },
};

export const DEFAULT_OPENAI_MODELS = [
  "gpt-4o-mini",
  "gpt-4.1",
  "gpt-5-mini",
  "o4-mini",
  "text-embedding-3-small",
];

function openaiDialect(options: FakeServerOptions): Dialect {
  const models = options.models ?? DEFAULT_OPENAI_MODELS;
  const routes: Route[] = [
    { method: "POST", pattern: /^\/v1\/chat\/completions$/, handle: handleChatCompletions },
    { method: "POST", pattern: /^\/v1\/responses$/, handle: handleResponses },
    { method: "POST", pattern: /^\/v1\/embeddings$/, handle: handleEmbeddings },
    {
      method: "GET",
      pattern: /^\/v1\/models$/,
      handle: () => ({
        kind: "json",
        body: {
          object: "list",
          data: models.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "system" })),
        },
      }),
    },
    {
      method: "GET",
      pattern: /^\/v1\/models\/(.+)$/,
      handle: ({ params }) => {
        const id = decodeURIComponent(params[0] ?? "");
        return models.includes(id)
          ? { kind: "json", body: { id, object: "model", created: 1_700_000_000, owned_by: "system" } }
          : { kind: "error", status: 404, message: `The model '${id}' does not exist` };
      },
    },
  ];
  return {
    apiPrefix: "/v1",
    routes,
    requestId: (seed, index) => `req_${hashHex(32, "openai-request", seed, index)}`,
    responseHeaders: (requestId) => ({
      "x-request-id": requestId,
      "openai-version": "2020-10-01",
      "openai-organization": "user-fake",
      "x-ratelimit-limit-requests": "10000",
      "x-ratelimit-remaining-requests": "9999",
      "x-ratelimit-limit-tokens": "30000000",
      "x-ratelimit-remaining-tokens": "29999000",
    }),
    errorBody: (status, message) => {
      const known = ERRORS[status] ?? { type: "server_error", code: null, message: `HTTP ${status}` };
      return {
        error: { message: message ?? known.message, type: known.type, param: null, code: known.code },
      };
    },
  };
}

/**
 * Starts a fake OpenAI server on 127.0.0.1 (ephemeral port).
 *
 * @example
 * const server = await startFakeOpenAI();
 * const openai = createOpenAI({ baseURL: server.baseURL, apiKey: "test" });
 * const { text } = await generateText({ model: openai.chat("gpt-4o-mini"), prompt: "Hi", maxRetries: 0 });
 * await server.close();
 */
export function startFakeOpenAI(options: FakeServerOptions = {}): Promise<FakeServer> {
  return startFakeServer(openaiDialect(options), options);
}
