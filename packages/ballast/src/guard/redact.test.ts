import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import {
  configureRedaction,
  createRedactor,
  getRedactor,
  isSecretFieldName,
  parseRedactPatterns,
  REDACTED,
  redact,
  redactError,
  redactHeaders,
  redactLabels,
  redactValue,
} from "./redact.ts";

const standard = createRedactor({ env: {} });
const strict = createRedactor({ env: {}, profile: "strict" });

afterEach(() => {
  configureRedaction({ env: {} });
});

describe("built-in patterns (standard profile)", () => {
  it.each([
    ["email", "mail john.doe+x@example.co.uk now", "mail <<REDACTED>> now"],
    ["E.164 phone", "call +442079460958.", "call <<REDACTED>>."],
    ["grouped phone", "call (415) 555-0132 or 415.555.0132", "call <<REDACTED>> or <<REDACTED>>"],
    ["bearer", "sent Bearer abcdefgh12345678", "sent Bearer <<REDACTED>>"],
    ["header line", "Authorization: Bearer abc.def", "Authorization: <<REDACTED>>"],
    ["X-API-Token line, any case", "x-API-token: s3cr3t-value", "x-API-token: <<REDACTED>>"],
    ["url credentials", `${"amqp"}://app:pa55word@mq:5672/x`, "amqp://app:<<REDACTED>>@mq:5672/x"],
    ["key=value", "password=hunter2 user=bob", "password=<<REDACTED>> user=bob"],
    ["json field", '{"client_secret":"abc","n":1}', '{"client_secret":"<<REDACTED>>","n":1}'],
    ["hex 16+", "id 0123456789abcdef done", "id <<REDACTED>> done"],
    ["Luhn-valid card", "card 4111-1111-1111-1111.", "card <<REDACTED>>."],
    ["US SSN", "ssn 123-45-6789", "ssn <<REDACTED>>"],
    [
      "private key block",
      "a\n-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\nb",
      "a\n<<REDACTED>>\nb",
    ],
  ])("%s", (_name, input, expected) => {
    expect(standard.redact(input)).toBe(expected);
  });

  it("keeps text that only looks like numbers: dates, times, versions, counts, short hex", () => {
    const text =
      "2025-10-29T10:00:00Z v1.2.3 took 1500 ms, 42 items, port 8080, ip 10.0.0.1, max_tokens=512, input_tokens: 7, deadbeef";
    expect(standard.redact(text)).toBe(text);
  });

  it("keeps a 16-digit number that fails the Luhn check as a card (the hex rule still applies to runs)", () => {
    expect(standard.redact("ref 4111 1111 1111 1112")).toBe("ref 4111 1111 1111 1112");
  });

  it("does not re-redact its own marker and is idempotent", () => {
    const once = standard.redact("token=abc password=<<REDACTED>> a@b.io");
    expect(standard.redact(once)).toBe(once);
  });
});

describe("strict profile", () => {
  it("adds IP addresses, long numbers, any card-like number and opaque tokens", () => {
    expect(strict.profile).toBe("strict");
    expect(strict.redact("from 10.0.0.1 and fe80::1ff:fe23:4567:890a")).toBe(
      "from <<REDACTED>> and <<REDACTED>>",
    );
    expect(strict.redact("account 123456789")).toBe("account <<REDACTED>>");
    expect(strict.redact("ref 4111 1111 1111 1112")).toBe("ref <<REDACTED>>");
    expect(strict.redact("session Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA")).toBe("session <<REDACTED>>");
    // Long words without digits and clock times stay readable.
    expect(strict.redact("packages_ballast_src_guard_redact at 12:30:45")).toBe(
      "packages_ballast_src_guard_redact at 12:30:45",
    );
  });

  it("reads the profile from BALLAST_REDACT_PROFILE and rejects unknown ones", () => {
    expect(createRedactor({ env: { BALLAST_REDACT_PROFILE: "strict" } }).profile).toBe("strict");
    expect(() => createRedactor({ env: { BALLAST_REDACT_PROFILE: "paranoid" } })).toThrow(/standard.*strict/);
  });
});

describe("BALLAST_REDACT_PATTERNS", () => {
  it("accepts a JSON array of regex sources and named objects", () => {
    const r = createRedactor({
      env: {
        BALLAST_REDACT_PATTERNS: '["acme_[a-z]{4}", {"name":"ticket","pattern":"tck-[0-9]+","flags":"i"}]',
      },
    });
    expect(r.redact("key acme_abcd and TCK-991")).toBe("key <<REDACTED>> and <<REDACTED>>");
  });

  it("accepts a comma-separated list of literal prefixes", () => {
    const r = createRedactor({ env: { BALLAST_REDACT_PATTERNS: "acme_, corp." } });
    expect(r.redact("acme_Q1w2E3r4T5 corp.ZZZZZZZZZZ corp.x")).toBe("<<REDACTED>> <<REDACTED>> corp.x");
  });

  it.each([
    ["[not json", /not valid JSON/],
    ['{"pattern":"x"}', /not a JSON array/],
    ["[1]", /neither a string/],
    ['["("]', /does not compile/],
    ['["a*"]', /empty string/],
    ['[""]', /is empty/],
    ['[{"pattern":"x","flags":"g"}]', /flags/],
    ["acme_, bad prefix", /whitespace/],
  ])("rejects %s with redact_patterns_invalid", (value, message) => {
    let caught: unknown;
    try {
      parseRedactPatterns(value);
    } catch (error) {
      caught = error;
    }
    expect(BallastError.hasCode(caught, "redact_patterns_invalid")).toBe(true);
    expect((caught as Error).message).toMatch(message);
  });

  it("takes code-supplied patterns and RegExp objects too", () => {
    const r = createRedactor({ env: {}, patterns: [/ORD-\d+/gi, { pattern: "zz[0-9]+" }] });
    expect(r.redact("ord-12 zz9")).toBe("<<REDACTED>> <<REDACTED>>");
  });
});

describe("known secret values", () => {
  it("redacts values of secret-looking environment variables whatever their shape", () => {
    const r = createRedactor({
      env: { MY_SERVICE_TOKEN: "plain words secret", HOME: "/root", SHORT_KEY: "abc" },
    });
    expect(r.redact("got plain words secret from /root abc")).toBe("got <<REDACTED>> from /root abc");
  });

  it("redacts explicitly registered secrets", () => {
    const r = createRedactor({ env: {}, secrets: ["correct horse battery", "x"] });
    expect(r.redact("pw is correct horse battery, x")).toBe("pw is <<REDACTED>>, x");
  });
});

describe("redactValue", () => {
  it("redacts strings and keys deeply and replaces secret-named fields whole", () => {
    const input = {
      apiKey: "anything",
      "X-API-Token": 12345,
      nested: { refresh_token: { deep: "x" }, note: "mail a@b.io", list: ["ok", "Bearer abcdefghijkl"] },
      "bob@example.com": 1,
      empty: null,
      password: null,
      count: 3,
      when: new Date(0),
      bytes: new Uint8Array([1, 2]),
    };
    const out = standard.redactValue(input);
    expect(out).toEqual({
      apiKey: REDACTED,
      "X-API-Token": REDACTED,
      nested: { refresh_token: REDACTED, note: "mail <<REDACTED>>", list: ["ok", "Bearer <<REDACTED>>"] },
      [REDACTED]: 1,
      empty: null,
      password: null,
      count: 3,
      when: new Date(0),
      bytes: new Uint8Array([1, 2]),
    });
    expect(input.apiKey).toBe("anything");
  });

  it("turns errors into redacted records and cycles into a marker", () => {
    const error = Object.assign(new Error("failed with token=abcdef"), { code: "E_X" });
    const cyclic: Record<string, unknown> = { error };
    cyclic["self"] = cyclic;
    expect(standard.redactValue(cyclic)).toEqual({
      error: { name: "Error", message: "failed with token=<<REDACTED>>", code: "E_X" },
      self: "[Circular]",
    });
  });

  it("redacts maps", () => {
    const out = standard.redactValue(
      new Map<string, string>([
        ["secret", "v"],
        ["a@b.io", "c@d.io"],
      ]),
    );
    expect([...out.entries()]).toEqual([
      ["secret", REDACTED],
      [REDACTED, REDACTED],
    ]);
  });

  it("recognises secret field names in any case style", () => {
    for (const key of [
      "apiKey",
      "api_key",
      "API-KEY",
      "x-api-token",
      "Authorization",
      "clientSecret",
      "AWS_SECRET_ACCESS_KEY",
    ]) {
      expect(isSecretFieldName(key), key).toBe(true);
    }
    for (const key of ["max_tokens", "tokens", "keyboard", "input_tokens", "author", "monkey"]) {
      expect(isSecretFieldName(key), key).toBe(false);
    }
  });
});

describe("headers", () => {
  it("replaces Authorization and X-API-Token whatever their case, in records, arrays and Headers", () => {
    expect(redactHeaders({ AUTHORIZATION: "Bearer x", "x-Api-Token": "y", Accept: "a@b.io", n: 3 })).toEqual({
      AUTHORIZATION: REDACTED,
      "x-Api-Token": REDACTED,
      Accept: REDACTED,
      n: 3,
    });
    expect(
      redactHeaders([
        ["authorization", "Basic abc"],
        ["accept", "json"],
      ]),
    ).toEqual([
      ["authorization", REDACTED],
      ["accept", "json"],
    ]);
    expect(redactHeaders(new Headers({ "X-API-TOKEN": "t", "set-cookie": "s=1", via: "proxy" }))).toEqual({
      "set-cookie": REDACTED,
      via: "proxy",
      "x-api-token": REDACTED,
    });
    expect(redactHeaders({ "x-multi": ["a@b.io", "fine"] })).toEqual({ "x-multi": [REDACTED, "fine"] });
  });
});

describe("process-wide redactor and crash paths", () => {
  it("is built from the environment on first use and can be replaced", () => {
    configureRedaction({ env: { BALLAST_REDACT_PATTERNS: '["zebra[0-9]+"]' } });
    expect(redact("zebra12")).toBe(REDACTED);
    expect(getRedactor().profile).toBe("standard");
    expect(redactValue({ s: "zebra1" })).toEqual({ s: REDACTED });
  });

  it("describes thrown values without secrets or stack frames", () => {
    const error = Object.assign(new Error("connect failed: Authorization: Bearer abcdefghijkl"), {
      code: "ECONN",
    });
    const line = redactError(error);
    expect(line).toBe("Error [ECONN]: connect failed: Authorization: <<REDACTED>>");
    expect(redactError(new TypeError("bad a@b.io"))).toBe("TypeError: bad <<REDACTED>>");
    expect(redactError("token=xyz")).toBe("token=<<REDACTED>>");
  });

  it("redacts metric label values", () => {
    expect(redactLabels({ route: "/u/a@b.io", code: 200 })).toEqual({ route: "/u/<<REDACTED>>", code: 200 });
  });
});

describe("properties", () => {
  const alnum = fc.string({
    unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
    minLength: 1,
  });
  const filler = fc.string({ unit: fc.constantFrom(..."abc xyz.,:;()[]\n\t") });

  it("never lets a generated email, hex id or provider key through, wherever it sits", () => {
    const secret = fc.oneof(
      fc.tuple(alnum, alnum).map(([a, b]) => `${a}@${b}.com`),
      fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 16, maxLength: 64 }),
      fc
        .string({
          unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"),
          minLength: 36,
          maxLength: 36,
        })
        .map((s) => `ghp_${s}`),
      fc
        .string({
          unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
          minLength: 16,
          maxLength: 16,
        })
        .map((s) => `AKIA${s}`),
    );
    fc.assert(
      fc.property(filler, secret, filler, (before, s, after) => {
        for (const r of [standard, strict]) {
          const out = r.redact(`${before} ${s} ${after}`);
          expect(out).not.toContain(s);
          expect(out).toContain(REDACTED);
        }
      }),
    );
  });

  it("is idempotent and never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (text) => {
        const once = standard.redact(text);
        expect(standard.redact(once)).toBe(once);
        const onceStrict = strict.redact(text);
        expect(strict.redact(onceStrict)).toBe(onceStrict);
      }),
    );
  });

  it("redacts every Luhn-valid 13-19 digit number, with or without separators", () => {
    const luhn = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 12, maxLength: 18 }).map((digits) => {
      const body = digits.join("");
      for (let c = 0; c < 10; c++) {
        const candidate = `${body}${c}`;
        let sum = 0;
        for (let i = 0; i < candidate.length; i++) {
          let d = Number(candidate[candidate.length - 1 - i]);
          if (i % 2 === 1) {
            d *= 2;
            if (d > 9) d -= 9;
          }
          sum += d;
        }
        if (sum % 10 === 0) return candidate;
      }
      return body;
    });
    fc.assert(
      fc.property(luhn, fc.constantFrom("", " ", "-"), (card, sep) => {
        const grouped = card.replace(/(\d{4})(?=\d)/g, `$1${sep}`);
        expect(standard.redact(`pay ${grouped} now`)).toBe("pay <<REDACTED>> now");
      }),
    );
  });
});

describe("identifiers", () => {
  it("keeps trace ids, hashes and run ids in identifier fields, but still catches secrets there", () => {
    const out = standard.redactValue({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      requestHash: "ab".repeat(32),
      run_id: "run_0123456789abcdef0123",
      chain: "0".repeat(64),
      id: "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
      spanId: "has spaces and a@b.io",
      note: "4bf92f3577b34da6a3ce929d0e0e4736",
    });
    expect(out).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      requestHash: "ab".repeat(32),
      run_id: "run_0123456789abcdef0123",
      chain: "0".repeat(64),
      id: REDACTED,
      spanId: "has spaces and <<REDACTED>>",
      note: REDACTED,
    });
    expect(strict.redactId("123456789012")).toBe("123456789012");
    expect(strict.redactId("a@b.io")).toBe(REDACTED);
  });
});
