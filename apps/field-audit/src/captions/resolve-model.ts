import type { LanguageModelV4 } from "@ai-sdk/provider";

/**
 * Which vision model writes the captions: Gemini by default when a key (or a base URL, e.g.
 * the fake Gemini server) is configured; otherwise ballast's deterministic local model, so
 * the audit runs offline; or none. Providers load lazily: an audit without captions never
 * imports them.
 */

export type CaptionProvider = "gemini" | "local" | "none";

export interface ModelChoice {
  provider?: CaptionProvider;
  modelId?: string;
  baseURL?: string;
  apiKey?: string;
}

export interface ResolvedModel {
  provider: CaptionProvider;
  model?: LanguageModelV4;
  modelId?: string;
}

export const DEFAULT_GEMINI_MODEL = "gemini-2.5-flash";

export async function resolveCaptionModel(
  choice: ModelChoice = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedModel> {
  const apiKey = choice.apiKey ?? env["GOOGLE_GENERATIVE_AI_API_KEY"] ?? env["GEMINI_API_KEY"];
  const provider = choice.provider ?? (apiKey || choice.baseURL ? "gemini" : "local");
  if (provider === "none") return { provider };
  if (provider === "local") {
    const { createLocalModel } = await import("ballast/testing");
    const modelId = choice.modelId ?? "local-vision";
    return { provider, model: createLocalModel({ seed: 0, modelId }), modelId };
  }
  const { createGoogleGenerativeAI } = await import("@ai-sdk/google");
  const modelId = choice.modelId ?? DEFAULT_GEMINI_MODEL;
  const google = createGoogleGenerativeAI({
    ...(choice.baseURL ? { baseURL: choice.baseURL } : {}),
    ...(apiKey ? { apiKey } : { apiKey: "unset" }),
  });
  return { provider, model: google(modelId), modelId };
}
