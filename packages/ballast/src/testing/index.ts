/**
 * `ballast/testing`: fake provider servers and deterministic models for tests and offline
 * demos. Nothing here is needed in production code, and nothing here loads a heavy
 * dependency: the servers are plain node:http.
 */
export { DEFAULT_ANTHROPIC_MODELS, startFakeAnthropic } from "./anthropic-fake.ts";
export type {
  FakeBehaviour,
  FakeRequest,
  FakeResponder,
  FakeServer,
  FakeServerOptions,
  Latency,
} from "./fake-server.ts";
export { featureHashEmbedding } from "./feature-hash-embedding.ts";
export { startFakeGemini } from "./gemini-fake.ts";
export { createLocalEmbeddingModel, type LocalEmbeddingModelOptions } from "./local-embedding-model.ts";
export { createLocalModel, type LocalModelOptions } from "./local-model.ts";
export { estimateTokens } from "./local-text.ts";
export { DEFAULT_OPENAI_MODELS, startFakeOpenAI } from "./openai-fake.ts";
export type { ChatIntent, FakeReply, FakeToolCall, UsageCounts } from "./reply.ts";
export { sampleJsonSchema } from "./schema-value.ts";
