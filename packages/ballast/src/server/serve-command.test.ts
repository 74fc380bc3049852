import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerMcpCommand, runMcpHttp } from "../cli/commands/mcp.ts";
import { registerServeCommand, runServe } from "../cli/commands/serve.ts";
import { loadProxyConfig } from "./proxy/config.ts";
import { GRANTS, RULES, TOKEN_ENTRIES, TOKENS } from "./test-harness.ts";
import { hashToken } from "./tokens.ts";

/** `ballast serve` and `ballast mcp --http` over a real home, on 127.0.0.1 with a free port. */

let home: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ballast-serve-"));
  vi.stubEnv("BALLAST_LOG_LEVEL", "silent");
});

afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(home, { recursive: true, force: true });
});

async function cli(register: (program: Command) => void, args: string[]): Promise<string> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    const program = new Command("ballast").option("--home <dir>").option("--json").exitOverride();
    register(program);
    await program.parseAsync([...args, "--home", home], { from: "user" });
  } finally {
    spy.mockRestore();
  }
  return out;
}

describe("ballast serve", () => {
  it("serves the home's runs, search and proxy without tokens on loopback", async () => {
    writeFileSync(
      join(home, "proxy.json"),
      JSON.stringify({
        models: { local: { provider: "local", model: "local" } },
        layer: { cache: { path: "proxy-cache-{key}.db" } },
      }),
    );
    const running = await runServe({
      home,
      port: "0",
      rateLimit: "off",
      corsOrigin: ["https://app.example.com"],
      gzip: true,
    });
    try {
      expect(running.warnings).toEqual([]);
      const { url } = running.urls;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${url}/v1/health`)).status).toBe(200);
      expect(((await (await fetch(`${url}/v1/runs`)).json()) as { runs: unknown[] }).runs).toEqual([]);
      const search = await fetch(`${url}/v1/search`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "anything" }),
      });
      expect(search.status).toBe(200);
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "local", messages: [{ role: "user", content: "hello" }] }),
      });
      expect(chat.status).toBe(200);
      expect(((await chat.json()) as { object: string }).object).toBe("chat.completion");
    } finally {
      await running.close();
    }
  });

  it("requires tokens (and warns about a missing policy) once tokens exist", async () => {
    writeFileSync(join(home, "tokens.json"), JSON.stringify({ tokens: TOKEN_ENTRIES }));
    const denied = await runServe({ home, port: "0" });
    try {
      expect(denied.warnings.join("\n")).toContain("every request will be denied");
      const { url } = denied.urls;
      expect((await fetch(`${url}/v1/health`)).status).toBe(401);
      expect(
        (await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${TOKENS.alice}` } })).status,
      ).toBe(403);
    } finally {
      await denied.close();
    }
    writeFileSync(join(home, "policy.json"), JSON.stringify(RULES));
    writeFileSync(join(home, "rbac.json"), JSON.stringify(GRANTS));
    const allowed = await runServe({ home, port: "0" });
    try {
      expect(allowed.warnings).toEqual([]);
      const res = await fetch(`${allowed.urls.url}/v1/health`, { headers: { "x-api-token": TOKENS.alice } });
      expect(res.status).toBe(200);
    } finally {
      await allowed.close();
    }
  });

  it("refuses bad flags and a non-loopback host without tokens", async () => {
    await expect(runServe({ home, port: "-1" })).rejects.toMatchObject({ code: "invalid_option" });
    await expect(runServe({ home, port: "0", tlsCert: "x.pem" })).rejects.toMatchObject({
      code: "invalid_option",
    });
    await expect(runServe({ home, port: "0", rateLimit: "lots" })).rejects.toMatchObject({
      code: "server_config_invalid",
    });
    await expect(runServe({ home, port: "0", host: "0.0.0.0" })).rejects.toMatchObject({
      code: "insecure_bind",
    });
    await expect(runServe({ home, port: "0", workflows: join(home, "none.ts") })).rejects.toMatchObject({
      code: "workflows_missing",
    });
  });

  it("makes tokens and hashes them", async () => {
    const made = JSON.parse(await cli(registerServeCommand, ["serve", "--new-token", "ci", "--json"])) as {
      token: string;
      entry: { id: string; sha256: string };
    };
    expect(made.token).toMatch(/^blst_[A-Za-z0-9_-]{43}$/);
    expect(made.entry).toMatchObject({ id: "ci", sha256: hashToken(made.token) });
    expect(await cli(registerServeCommand, ["serve", "--new-token", "ops"])).toContain("Shown once");

    vi.spyOn(process, "stdin", "get").mockReturnValue(
      Readable.from([`${made.token}\n`]) as typeof process.stdin,
    );
    expect((await cli(registerServeCommand, ["serve", "--hash-token"])).trim()).toBe(hashToken(made.token));
    vi.spyOn(process, "stdin", "get").mockReturnValue(Readable.from([""]) as typeof process.stdin);
    await expect(cli(registerServeCommand, ["serve", "--hash-token"])).rejects.toMatchObject({
      code: "invalid_option",
    });
    vi.restoreAllMocks();
  });

  it("documents authentication, TLS and the reverse-proxy alternative in its help", async () => {
    const program = new Command("ballast").option("--home <dir>");
    registerServeCommand(program);
    registerMcpCommand(program);
    const serve = program.commands.find((c) => c.name() === "serve")!;
    let help = "";
    serve.configureOutput({ writeOut: (s) => (help += s) });
    serve.outputHelp();
    expect(help).toContain("--tls-cert");
    expect(help).toContain("reverse proxy");
    expect(program.commands.map((c) => c.name())).toEqual(["serve", "mcp"]);
  });
});

describe("ballast mcp --http", () => {
  it("serves MCP and health only", async () => {
    const running = await runMcpHttp({ home, port: "0" });
    try {
      expect(running.url).toMatch(/\/mcp$/);
      const base = running.url.slice(0, -"/mcp".length);
      expect((await fetch(`${base}/v1/health`)).status).toBe(200);
      expect((await fetch(`${base}/v1/runs`)).status).toBe(404);
    } finally {
      await running.close();
    }
  });
});

describe("proxy configuration file", () => {
  it("is optional, validated, and resolves cache paths inside the home", async () => {
    expect(await loadProxyConfig({ home, env: {} })).toBeUndefined();
    await expect(
      loadProxyConfig({ home, env: { BALLAST_PROXY_CONFIG: join(home, "nope.json") } }),
    ).rejects.toMatchObject({
      code: "proxy_config_invalid",
    });
    const file = join(home, "proxy.json");
    writeFileSync(file, "{oops");
    await expect(loadProxyConfig({ home, env: {} })).rejects.toThrow(/not valid JSON/);
    writeFileSync(file, JSON.stringify({ models: { m: { provider: "cohere", model: "x" } } }));
    await expect(loadProxyConfig({ home, env: {} })).rejects.toThrow(/models\.m\.provider/);
    writeFileSync(
      file,
      JSON.stringify({
        models: {
          gpt: {
            provider: "openai",
            model: "gpt-4o-mini",
            baseURL: "http://127.0.0.1:9/v1",
            apiKeyEnv: "MY_KEY",
            fallbacks: [
              { provider: "anthropic", model: "claude-3-5-haiku-latest" },
              { provider: "google", model: "gemini-2.0-flash" },
            ],
            stage: "chat",
          },
        },
        layer: { cache: { path: "cache.db" } },
        keys: { ci: { cache: { path: "/abs/cache.db" } } },
        journal: false,
      }),
    );
    const options = await loadProxyConfig({ home, env: { MY_KEY: "k" } });
    expect(Object.keys(options!.models)).toEqual(["gpt"]);
    expect(options!.layer).toEqual({ cache: { path: join(home, "cache.db") } });
    expect(options!.keys).toEqual({ ci: { cache: { path: "/abs/cache.db" } } });
    expect(options!.journal).toBe(false);
  });
});
