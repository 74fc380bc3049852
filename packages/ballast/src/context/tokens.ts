/**
 * Token counts with a real BPE tokenizer (gpt-tokenizer). The encodings are large, so each
 * is loaded on first use only. Special-token text such as `<|endoftext|>` is counted as
 * plain text: documents are data, never control tokens.
 */
export type TokenEncoding = "o200k_base" | "cl100k_base";

type Counter = (text: string) => number;
const loaded = new Map<TokenEncoding, Promise<Counter>>();

async function load(encoding: TokenEncoding): Promise<Counter> {
  const mod =
    encoding === "cl100k_base"
      ? await import("gpt-tokenizer/encoding/cl100k_base")
      : await import("gpt-tokenizer/encoding/o200k_base");
  return (text) => mod.countTokens(text, { disallowedSpecial: new Set() });
}

export async function countTokens(text: string, encoding: TokenEncoding = "o200k_base"): Promise<number> {
  let counter = loaded.get(encoding);
  if (counter === undefined) {
    counter = load(encoding);
    loaded.set(encoding, counter);
  }
  return (await counter)(text);
}
