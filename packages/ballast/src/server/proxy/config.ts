import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { LanguageModelV4 } from "@ai-sdk/provider";
import { z } from "zod";
import { ValidationError } from "../../errors.ts";
import type { ModelLayerOptions } from "../../models/options.ts";
import type { ProxyOptions } from "./routes.ts";

/**
 * The proxy's configuration file, for `ballast serve` (`<home>/proxy.json` or
 * `BALLAST_PROXY_CONFIG`). Providers are the AI SDK's, loaded when named (install
 * `@ai-sdk/openai`, `@ai-sdk/anthropic` or `@ai-sdk/google` for the ones you use); `local`
 * is ballast's deterministic offline model.
 *
 * ```json
 * {
 *   "models": {
 *     "gpt-4o-mini": { "provider": "openai", "model": "gpt-4o-mini",
 *                      "fallbacks": [{ "provider": "anthropic", "model": "claude-3-5-haiku-latest" }] }
 *   },
 *   "layer": { "cache": { "path": "proxy-cache-{key}.db" }, "limits": { "*": { "rpm": 600 } } },
 *   "keys": { "ci": { "budget": { "costUsd": 5 } } }
 * }
 * ```
 * Relative cache paths are inside the ballast home. API keys come from the provider's usual
 * variable (`OPENAI_API_KEY`, ...) or the one named by `apiKeyEnv`; never from this file.
 */

const target = z.strictObject({
  provider: z.enum(["openai", "anthropic", "google", "local"]),
  model: z.string().min(1),
  baseURL: z.string().url().optional(),
  apiKeyEnv: z
    .string()
    .regex(/^[A-Z_][A-Z0-9_]*$/)
    .optional(),
});

const proxyFileSchema = z.strictObject({
  models: z.record(
    z.string().min(1).max(256),
    target.extend({ fallbacks: z.array(target).max(10).optional(), stage: z.string().min(1).optional() }),
  ),
  layer: z.record(z.string(), z.unknown()).optional(),
  keys: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  journal: z.boolean().optional(),
});

export type ProxyConfigFile = z.infer<typeof proxyFileSchema>;
type Target = z.infer<typeof target>;

const PACKAGES = {
  openai: "@ai-sdk/openai",
  anthropic: "@ai-sdk/anthropic",
  google: "@ai-sdk/google",
} as const;

async function providerModel(
  spec: Target,
  env: Readonly<Record<string, string | undefined>>,
): Promise<LanguageModelV4> {
  const settings = {
    ...(spec.baseURL === undefined ? {} : { baseURL: spec.baseURL }),
    ...(spec.apiKeyEnv === undefined ? {} : { apiKey: env[spec.apiKeyEnv] ?? "" }),
  };
  try {
    switch (spec.provider) {
      case "local": {
        const { createLocalModel } = await import("../../testing/local-model.ts");
        return createLocalModel({ modelId: spec.model });
      }
      case "openai": {
        const { createOpenAI } = await import("@ai-sdk/openai");
        return createOpenAI(settings).chat(spec.model) as unknown as LanguageModelV4;
      }
      case "anthropic": {
        const { createAnthropic } = await import("@ai-sdk/anthropic");
        return createAnthropic(settings).languageModel(spec.model) as unknown as LanguageModelV4;
      }
      case "google": {
        const { createGoogle } = await import("@ai-sdk/google");
        return createGoogle(settings).languageModel(spec.model) as unknown as LanguageModelV4;
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" && spec.provider !== "local") {
      throw new ValidationError(
        "proxy_config_invalid",
        `The proxy's "${spec.provider}" models need ${PACKAGES[spec.provider]}: npm install ${PACKAGES[spec.provider]}`,
      );
    }
    throw error;
  }
}

/** Turns a parsed proxy file into proxy options (building the provider models). */
export async function proxyOptionsFrom(
  file: ProxyConfigFile,
  options: { home: string; env?: Readonly<Record<string, string | undefined>> },
): Promise<ProxyOptions> {
  const env = options.env ?? process.env;
  const models: ProxyOptions["models"] = {};
  for (const [name, spec] of Object.entries(file.models)) {
    models[name] = {
      model: await providerModel(spec, env),
      ...(spec.fallbacks === undefined
        ? {}
        : { fallbacks: await Promise.all(spec.fallbacks.map((f) => providerModel(f, env))) }),
      ...(spec.stage === undefined ? {} : { stage: spec.stage }),
    };
  }
  const inHome = (layer: Record<string, unknown> | undefined): ModelLayerOptions | undefined => {
    if (layer === undefined) return undefined;
    const cache = layer["cache"] as { path?: unknown } | undefined;
    if (
      cache !== undefined &&
      typeof cache === "object" &&
      typeof cache.path === "string" &&
      !isAbsolute(cache.path)
    ) {
      return { ...layer, cache: { ...cache, path: join(options.home, cache.path) } } as ModelLayerOptions;
    }
    return layer as ModelLayerOptions;
  };
  const layer = inHome(file.layer);
  return {
    models,
    ...(layer === undefined ? {} : { layer }),
    ...(file.keys === undefined
      ? {}
      : {
          keys: Object.fromEntries(
            Object.entries(file.keys).map(([key, value]) => [key, inHome(value) as ModelLayerOptions]),
          ),
        }),
    ...(file.journal === undefined ? {} : { journal: file.journal }),
  };
}

/**
 * The proxy configuration of a home: `BALLAST_PROXY_CONFIG` (a file), else
 * `<home>/proxy.json`; undefined when neither exists (the proxy is then off).
 */
export async function loadProxyConfig(options: {
  home: string;
  env?: Readonly<Record<string, string | undefined>>;
}): Promise<ProxyOptions | undefined> {
  const env = options.env ?? process.env;
  const named = env["BALLAST_PROXY_CONFIG"];
  const path = named !== undefined && named !== "" ? named : join(options.home, "proxy.json");
  if (!existsSync(path)) {
    if (named !== undefined && named !== "") {
      throw new ValidationError(
        "proxy_config_invalid",
        `BALLAST_PROXY_CONFIG names ${path}, which does not exist.`,
      );
    }
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ValidationError(
      "proxy_config_invalid",
      `${path} is not valid JSON (${(error as Error).message}).`,
    );
  }
  const parsed = proxyFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(
      "proxy_config_invalid",
      `${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}. The server does not start with a bad proxy file.`,
    );
  }
  return proxyOptionsFrom(parsed.data, { home: options.home, env });
}
