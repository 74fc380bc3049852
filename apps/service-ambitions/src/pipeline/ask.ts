import type { LanguageModelV4 } from "@ai-sdk/provider";
import { generateText, type ModelMessage, NoObjectGeneratedError, Output } from "ai";
import type { z } from "zod";
import { AnswerRejectedError } from "../errors.ts";
import { reaskPrompt } from "./prompts.ts";

/**
 * Structured output with bounded re-asks: the answer is parsed and validated against a zod
 * schema (by the AI SDK's `Output.object`), then by the caller's own checks; a rejected
 * answer is sent back with the validation error, at most `maxReasks` times. Every call goes
 * through the wrapped model, so each ask is journaled, cached and limited like any other.
 */

export interface Problem {
  /** `invalid` (schema or shape), `unknown_ids` or `missing` (mapping). */
  kind: "invalid" | "unknown_ids" | "missing";
  message: string;
}

export interface CallSettings {
  model: LanguageModelV4;
  stage: string;
  /** The service id: named in the model layer's failure traces. */
  item: string;
  maxOutputTokens: number;
  /** Sent as the provider `seed` where the provider supports it. */
  seed: number | undefined;
  signal: AbortSignal;
  /** `off` bypasses the response cache (a released record is asked afresh). */
  cacheMode?: "off";
}

function callOptions(options: CallSettings) {
  return {
    ballast: {
      stage: options.stage,
      item: options.item,
      ...(options.cacheMode === undefined ? {} : { cacheMode: options.cacheMode }),
    },
  };
}

export interface AskOptions<T> extends CallSettings {
  system: string;
  prompt: string;
  schema: z.ZodType<T>;
  maxReasks: number;
  /** Checks beyond the schema; an empty list accepts the answer. */
  check?: (value: T) => Problem[];
}

export interface Answer<T> {
  value: T;
  asks: number;
  /** The model that answered the accepted ask (a fallback shows here). */
  modelId: string;
  requestIds: string[];
}

const MAX_PROBLEM_TEXT = 1_200;

function zodProblems(error: unknown): string {
  // NoObjectGeneratedError → TypeValidationError → ZodError: the issues are a level or two down.
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const issues = (e as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
    if (Array.isArray(issues) && issues.length > 0) {
      return issues
        .slice(0, 12)
        .map((i) => `${i.path.length > 0 ? i.path.map(String).join(".") : "(root)"}: ${i.message}`)
        .join("; ");
    }
    e = (e as { cause?: unknown }).cause;
  }
  const cause = (error as { cause?: unknown }).cause;
  return (cause instanceof Error ? cause : (error as Error)).message.split("\n")[0] ?? "invalid JSON";
}

function clip(text: string): string {
  return text.length > MAX_PROBLEM_TEXT ? `${text.slice(0, MAX_PROBLEM_TEXT)}…` : text;
}

/** The code an exhausted ask fails with: mapping problems keep their kind. */
function failureCode(problems: readonly Problem[]): string {
  if (problems.some((p) => p.kind === "unknown_ids")) return "mapping_unknown_ids";
  if (problems.some((p) => p.kind === "missing")) return "mapping_missing";
  return "answer_invalid";
}

export async function askText(options: CallSettings & { system: string; prompt: string }): Promise<{
  text: string;
  modelId: string;
  requestId: string | undefined;
}> {
  const result = await generateText({
    model: options.model,
    system: options.system,
    prompt: options.prompt,
    maxOutputTokens: options.maxOutputTokens,
    maxRetries: 0, // the model layer retries, with limits and fallbacks
    abortSignal: options.signal,
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    providerOptions: callOptions(options),
  });
  return { text: result.text, modelId: result.response.modelId, requestId: result.response.id };
}

export async function askStructured<T>(options: AskOptions<T>): Promise<Answer<T>> {
  const messages: ModelMessage[] = [{ role: "user", content: options.prompt }];
  const requestIds: string[] = [];
  const history: Problem[][] = [];
  for (let ask = 1; ; ask++) {
    let answerText: string;
    let problems: Problem[];
    try {
      const result = await generateText({
        model: options.model,
        system: options.system,
        messages,
        output: Output.object({ schema: options.schema }),
        maxOutputTokens: options.maxOutputTokens,
        maxRetries: 0,
        abortSignal: options.signal,
        ...(options.seed === undefined ? {} : { seed: options.seed }),
        providerOptions: callOptions(options),
      });
      if (result.response.id) requestIds.push(result.response.id);
      const value = result.output as T;
      problems = options.check?.(value) ?? [];
      if (problems.length === 0) {
        return { value, asks: ask, modelId: result.response.modelId, requestIds };
      }
      answerText = JSON.stringify(value);
    } catch (error) {
      if (!NoObjectGeneratedError.isInstance(error)) throw error;
      if (error.response?.id) requestIds.push(error.response.id);
      answerText = error.text ?? "";
      problems = [
        { kind: "invalid", message: `the answer did not match the schema (${zodProblems(error)})` },
      ];
    }
    history.push(problems);
    if (ask > options.maxReasks) {
      throw new AnswerRejectedError({
        stage: options.stage,
        kind: failureCode(problems),
        problems: history.map((list) => clip(list.map((p) => p.message).join("; "))),
        asks: ask,
        requestIds,
      });
    }
    messages.push(
      { role: "assistant", content: answerText },
      { role: "user", content: reaskPrompt(clip(problems.map((p) => p.message).join("; "))) },
    );
  }
}
