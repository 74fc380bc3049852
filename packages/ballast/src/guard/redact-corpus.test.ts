import { describe, expect, it } from "vitest";
import { createRedactor } from "./redact.ts";

/**
 * A seeded corpus of real-looking secrets and PII, generated at test time (so no secret
 * scanner flags this file), in many formats and contexts. None may survive redaction.
 */

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HEX = "0123456789abcdef";
const B64URL = `${ALNUM}_-`;
const B64 = `${ALNUM}+/`;

interface Secret {
  kind: string;
  value: string;
  /** Parts that must not appear in the output (the random material). */
  cores: string[];
}

function generator(rand: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const str = (alphabet: string, n: number): string => {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const digits = (n: number) => str("0123456789", n);
  const b64url = (text: string) => Buffer.from(text).toString("base64url");
  const luhnComplete = (prefix: string, length: number): string => {
    let body = prefix + digits(length - prefix.length - 1);
    for (let check = 0; check < 10; check++) {
      const candidate = body + check;
      let sum = 0;
      let dbl = false;
      for (let i = candidate.length - 1; i >= 0; i--) {
        let d = candidate.charCodeAt(i) - 48;
        if (dbl) {
          d *= 2;
          if (d > 9) d -= 9;
        }
        sum += d;
        dbl = !dbl;
      }
      if (sum % 10 === 0) return candidate;
    }
    body = "";
    return body;
  };
  const groupCard = (card: string): string => {
    const sep = pick(["", " ", "-"]);
    return card.length === 16 ? (card.match(/.{4}/g) ?? []).join(sep) : card;
  };

  const makers: Record<string, () => Secret> = {
    openai: () => {
      const body = str(B64URL, pick([48, 64, 132]));
      const v = `sk-${pick(["", "proj-", "svcacct-"])}${body}`;
      return { kind: "openai", value: v, cores: [body] };
    },
    anthropic: () => {
      const body = str(B64URL, 93);
      return { kind: "anthropic", value: `sk-ant-api03-${body}AA`, cores: [body] };
    },
    aws_access_key_id: () => {
      const body = str(UPPER_NUM, 16);
      return { kind: "aws_access_key_id", value: `${pick(["AKIA", "ASIA"])}${body}`, cores: [body] };
    },
    aws_secret: () => {
      const body = str(B64, 40);
      return { kind: "aws_secret", value: `aws_secret_access_key = ${body}`, cores: [body] };
    },
    github: () => {
      const body = str(ALNUM, 36);
      return { kind: "github", value: `${pick(["ghp", "gho", "ghs", "ghu"])}_${body}`, cores: [body] };
    },
    github_pat: () => {
      const body = `${str(ALNUM, 22)}_${str(ALNUM, 59)}`;
      return { kind: "github_pat", value: `github_pat_${body}`, cores: [body] };
    },
    gitlab: () => {
      const body = str(B64URL, 20);
      return { kind: "gitlab", value: `glpat-${body}`, cores: [body] };
    },
    slack: () => {
      const body = `${digits(11)}-${digits(12)}-${str(ALNUM, 24)}`;
      return { kind: "slack", value: `${pick(["xoxb", "xoxp", "xoxa"])}-${body}`, cores: [body] };
    },
    slack_webhook: () => {
      const body = `T${str(UPPER_NUM, 8)}/B${str(UPPER_NUM, 8)}/${str(ALNUM, 24)}`;
      return { kind: "slack_webhook", value: `https://hooks.slack.com/services/${body}`, cores: [body] };
    },
    stripe: () => {
      const body = str(ALNUM, 24);
      return {
        kind: "stripe",
        value: `${pick(["sk", "rk"])}_${pick(["live", "test"])}_${body}`,
        cores: [body],
      };
    },
    google: () => {
      const body = str(B64URL, 35);
      return { kind: "google", value: `AIza${body}`, cores: [body] };
    },
    huggingface: () => {
      const body = str(ALNUM, 34);
      return { kind: "huggingface", value: `hf_${body}`, cores: [body] };
    },
    npm: () => {
      const body = str(ALNUM, 36);
      return { kind: "npm", value: `npm_${body}`, cores: [body] };
    },
    sendgrid: () => {
      const a = str(B64URL, 22);
      const b = str(B64URL, 43);
      return { kind: "sendgrid", value: `SG.${a}.${b}`, cores: [a, b] };
    },
    groq: () => {
      const body = str(ALNUM, 52);
      return { kind: "groq", value: `gsk_${body}`, cores: [body] };
    },
    jwt: () => {
      const header = b64url(JSON.stringify({ alg: pick(["HS256", "RS256", "ES256"]), typ: "JWT" }));
      const payload = b64url(
        JSON.stringify({
          sub: str(ALNUM, 12),
          iat: 1700000000 + Math.floor(rand() * 1e6),
          tenant: str(ALNUM, 6),
        }),
      );
      const sig = str(B64URL, 43);
      return { kind: "jwt", value: `${header}.${payload}.${sig}`, cores: [payload, sig] };
    },
    bearer: () => {
      const body = str(`${ALNUM}._-`, 40);
      return { kind: "bearer", value: `Bearer ${body}`, cores: [body] };
    },
    basic: () => {
      const body = Buffer.from(`${str(ALNUM, 8)}:${str(ALNUM, 14)}`).toString("base64");
      return { kind: "basic", value: `Basic ${body}`, cores: [body] };
    },
    private_key: () => {
      const label = pick(["RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", ""]);
      const lines = Array.from({ length: 6 }, () => str(B64, 64));
      return {
        kind: "private_key",
        value: `-----BEGIN ${label}PRIVATE KEY-----\n${lines.join("\n")}\n-----END ${label}PRIVATE KEY-----`,
        cores: lines,
      };
    },
    hex: () => {
      const body = str(HEX, pick([16, 24, 32, 40, 64]));
      return { kind: "hex", value: body, cores: [body] };
    },
    card: () => {
      const card = pick([
        () => luhnComplete("4", 16),
        () => luhnComplete(pick(["51", "52", "55"]), 16),
        () => luhnComplete(pick(["34", "37"]), 15),
        () => luhnComplete("6011", 16),
      ])();
      const grouped = groupCard(card);
      return { kind: "card", value: grouped, cores: [grouped, card] };
    },
    email: () => {
      const local = `${str("abcdefghijklmnopqrstuvwxyz", 6)}${pick([".", "_", "+", ""])}${str("abcdefghijklmnopqrstuvwxyz0123456789", 5)}`;
      const domain = `${str("abcdefghijklmnopqrstuvwxyz", 7)}.${pick(["com", "io", "co.uk", "de", "org"])}`;
      return { kind: "email", value: `${local}@${domain}`, cores: [local] };
    },
    phone: () => {
      const v = pick([
        () => `+1 ${digits(3)}-${digits(3)}-${digits(4)}`,
        () => `(${digits(3)}) ${digits(3)}-${digits(4)}`,
        () => `+44 20 ${digits(4)} ${digits(4)}`,
        () => `+49${digits(10)}`,
        () => `${digits(3)}.${digits(3)}.${digits(4)}`,
      ])();
      return { kind: "phone", value: v, cores: [v] };
    },
    ssn: () => {
      const v = `${100 + Math.floor(rand() * 600)}-${10 + Math.floor(rand() * 89)}-${1000 + Math.floor(rand() * 8999)}`;
      return { kind: "ssn", value: v, cores: [v] };
    },
    url_password: () => {
      const pass = str(ALNUM, 16);
      return {
        kind: "url_password",
        value: `${pick(["postgres", "mysql", "redis", "https", "amqp"])}://${str("abcdefgh", 6)}:${pass}@db.internal:5432/app`,
        cores: [pass],
      };
    },
    password_kv: () => {
      const pass = str(`${ALNUM}!#$%^*`, 14);
      return {
        kind: "password_kv",
        value: `${pick(["password", "DB_PASSWORD", "passwd", "pwd"])}=${pass}`,
        cores: [pass],
      };
    },
    api_key_json: () => {
      const key = str(ALNUM, 32);
      return {
        kind: "api_key_json",
        value: `"${pick(["api_key", "apiKey", "client_secret", "access_token"])}": "${key}"`,
        cores: [key],
      };
    },
    auth_header: () => {
      const tok = str(ALNUM, 30);
      return {
        kind: "auth_header",
        value: `${pick(["Authorization", "authorization", "X-API-Token", "x-api-token", "X-Api-Key"])}: ${tok}`,
        cores: [tok],
      };
    },
  };
  return { makers, pick };
}

const CONTEXTS: ((s: string) => string)[] = [
  (s) => s,
  (s) => `error: request failed with ${s} while calling provider`,
  (s) => JSON.stringify({ message: `value ${s}`, level: "error" }),
  (s) => `config:\n  value: ${s}\n  retries: 3`,
  (s) => `GET /v1/items?q=${s} HTTP/1.1`,
  (s) => `[2025-10-29T10:00:00Z] (${s}) done`,
  (s) => `"${s}"`,
  (s) => `Traceback (most recent call last):\n  File "x.py", line 3\nValueError: ${s}\n`,
];

describe("seeded secret corpus", () => {
  const standard = createRedactor({ env: {} });
  const strict = createRedactor({ env: {}, profile: "strict" });

  for (const seed of [1, 2, 3, 42, 2025]) {
    it(`leaves no secret from seed ${seed} in any format or context`, () => {
      const rand = prng(seed);
      const { makers } = generator(rand);
      const leaks: string[] = [];
      let cases = 0;
      for (const make of Object.values(makers)) {
        for (let n = 0; n < 4; n++) {
          const secret = make();
          for (const context of CONTEXTS) {
            const text = context(secret.value);
            for (const redactor of [standard, strict]) {
              cases++;
              const out = redactor.redact(text);
              for (const core of secret.cores) {
                if (out.includes(core)) leaks.push(`${secret.kind} (${redactor.profile}): ${out}`);
              }
              if (!out.includes("<<REDACTED>>"))
                leaks.push(`${secret.kind} (${redactor.profile}) no marker: ${out}`);
            }
          }
        }
      }
      expect(leaks).toEqual([]);
      expect(cases).toBeGreaterThan(1500);
    });
  }

  it("also redacts every secret when embedded in a nested object", () => {
    const { makers } = generator(prng(7));
    const all = Object.values(makers).map((m) => m());
    const value = { records: all.map((s) => ({ kind: s.kind, note: `see ${s.value}` })) };
    const out = JSON.stringify(standard.redactValue(value));
    for (const s of all) for (const core of s.cores) expect(out).not.toContain(core);
  });
});
