import type { LanguageModelV4 } from "@ai-sdk/provider";
import { ValidationError } from "ballast";
import { createLocalModel } from "ballast/testing";
import { offlineAnswer } from "./offline/responder.ts";
import type { Settings } from "./settings.ts";

/**
 * Turns a model spec (`local`, `openai:gpt-4o-mini`, `anthropic:...`, `google:...`,
 * `openai-compatible:<model>` with `baseUrl`) into an AI SDK model. Provider packages load
 * only when used, so an offline run never imports them. Keys come from the provider's usual
 * environment variable; a missing key is a clear error before any work starts.
 */

export type ModelFactory = (spec: string, settings: Settings) => LanguageModelV4 | Promise<LanguageModelV4>;

export interface FactoryOptions {
  /** Refuse to build a provider model without its key (off for replay, which calls nothing). */
  requireKeys?: boolean;
  env?: NodeJS.ProcessEnv;
}

const KEYS: Record<string, string> = {
  openai: "OPENAI_API_KEY",
  anthropic: "ANTHROPIC_API_KEY",
  google: "GOOGLE_GENERATIVE_AI_API_KEY",
  "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
};

/** Providers whose API takes a sampling `seed`. */
const SEEDED = new Set(["local", "openai", "openai-compatible", "google"]);

export function providerOf(spec: string): string {
  return spec === "local" ? "local" : (spec.split(":", 1)[0] as string);
}

/** The seed to send with calls to `spec`'s model, or undefined when its API has none. */
export function seedFor(spec: string, settings: Settings): number | undefined {
  return SEEDED.has(providerOf(spec)) ? settings.seed : undefined;
}

/** `auto`: a real provider when its key is set (OpenAI, then Anthropic, then Google), else local. */
export function resolveAutoModel(env: NodeJS.ProcessEnv = process.env): string {
  if (env["OPENAI_API_KEY"]) return "openai:gpt-4o-mini";
  if (env["ANTHROPIC_API_KEY"]) return "anthropic:claude-3-5-haiku-latest";
  if (env["GOOGLE_GENERATIVE_AI_API_KEY"]) return "google:gemini-2.5-flash";
  return "local";
}

function key(provider: string, options: FactoryOptions): string | undefined {
  const env = options.env ?? process.env;
  const name = KEYS[provider] as string;
  const value = env[name] ?? (provider === "openai-compatible" ? env["OPENAI_API_KEY"] : undefined);
  if ((value === undefined || value === "") && options.requireKeys !== false) {
    if (provider === "openai-compatible") return "not-needed"; // many local servers take none
    throw new ValidationError(
      "missing_api_key",
      `The model needs ${name}, which is not set. Set it, or run offline with --model local.`,
      { variable: name },
    );
  }
  return value === "" ? undefined : value;
}

export function defaultModelFactory(options: FactoryOptions = {}): ModelFactory {
  return async (spec, settings) => {
    const provider = providerOf(spec);
    const id = spec.slice(provider.length + 1);
    switch (provider) {
      case "local":
        return createLocalModel({
          seed: settings.seed,
          latencyMs: settings.localLatencyMs,
          respond: (intent) => offlineAnswer(intent, settings.seed),
        });
      case "openai": {
        const { createOpenAI } = await import("@ai-sdk/openai");
        const openai = createOpenAI({
          apiKey: key(provider, options) ?? "unset",
          ...(settings.baseUrl === undefined ? {} : { baseURL: settings.baseUrl }),
        });
        return settings.baseUrl === undefined ? openai(id) : openai.chat(id);
      }
      case "openai-compatible": {
        if (settings.baseUrl === undefined) {
          throw new ValidationError(
            "invalid_settings",
            `Model ${spec} needs the server's URL: pass --base-url (e.g. http://127.0.0.1:8000/v1).`,
          );
        }
        const { createOpenAI } = await import("@ai-sdk/openai");
        return createOpenAI({ apiKey: key(provider, options) ?? "unset", baseURL: settings.baseUrl }).chat(
          id,
        );
      }
      case "anthropic": {
        const { createAnthropic } = await import("@ai-sdk/anthropic");
        return createAnthropic({ apiKey: key(provider, options) ?? "unset" })(id);
      }
      case "google": {
        const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
        return createGoogleGenerativeAI({ apiKey: key(provider, options) ?? "unset" })(id);
      }
      default:
        throw new ValidationError("invalid_settings", `Unknown model provider in ${spec}.`);
    }
  };
}
