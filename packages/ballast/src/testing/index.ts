/**
 * `ballast/testing`: fake provider servers and deterministic models for tests and offline
 * demos. Nothing here is needed in production code.
 */
export type {
  FakeBehaviour,
  FakeRequest,
  FakeResponder,
  FakeServer,
  FakeServerOptions,
  Latency,
} from "./fake-server.ts";
export { DEFAULT_OPENAI_MODELS, startFakeOpenAI } from "./openai-fake.ts";
export type { ChatIntent, FakeReply, FakeToolCall, UsageCounts } from "./reply.ts";
