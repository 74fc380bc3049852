import type { LanguageModelV4Prompt } from "@ai-sdk/provider";
import { getRedactor } from "../guard/redact.ts";

/**
 * Redaction for everything the model layer lets out in readable form: prompt transcripts
 * (only with `logPrompts`), response previews, error messages in logs and failure traces.
 * It uses the guard layer's redactor (secrets, API keys, bearer tokens, emails, phone
 * numbers, plus `BALLAST_REDACT_PATTERNS`). What is sent to the provider is never changed.
 */

export function redactText(text: string): string {
  return getRedactor().redact(text);
}

/** A readable, redacted transcript of a prompt: one `role: text` line per text part. */
export function promptTranscript(prompt: LanguageModelV4Prompt): string {
  const lines: string[] = [];
  for (const message of prompt) {
    if (typeof message.content === "string") {
      lines.push(`${message.role}: ${message.content}`);
      continue;
    }
    for (const part of message.content) {
      switch (part.type) {
        case "text":
        case "reasoning":
          lines.push(`${message.role}: ${part.text}`);
          break;
        case "tool-call":
          lines.push(`${message.role}: [tool-call ${part.toolName}] ${safeJson(part.input)}`);
          break;
        case "tool-result":
          lines.push(`${message.role}: [tool-result ${part.toolName}] ${safeJson(part.output)}`);
          break;
        default:
          lines.push(`${message.role}: [${part.type}]`);
      }
    }
  }
  return redactText(lines.join("\n"));
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "[unserialisable]";
  }
}
