import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** The server's dependencies load from `ballast/server` only, never from the `ballast` root. */

const HEAVY = /fastify|@connectrpc|@bufbuild|@modelcontextprotocol/;

function loadedBy(entry: string): string[] {
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.push(r.url); return r; } });
    await import(${JSON.stringify(entry)});
    console.log(JSON.stringify(seen));
  `;
  const out = execFileSync(
    process.execPath,
    ["--conditions=ballast-source", "--no-warnings", "--input-type=module", "-e", script],
    {
      encoding: "utf8",
    },
  );
  return JSON.parse(out.trim().split("\n").at(-1)!) as string[];
}

describe("lazy loading", () => {
  it("does not load Fastify, Connect, protobuf or the MCP SDK when the ballast root is imported", () => {
    const root = fileURLToPath(new URL("../index.ts", import.meta.url));
    const loaded = loadedBy(root);
    expect(loaded.length).toBeGreaterThan(10);
    expect(loaded.filter((url) => HEAVY.test(url))).toEqual([]);
  });

  it("loads them from ballast/server, which exports the server without starting anything", () => {
    const loaded = loadedBy(fileURLToPath(new URL("./index.ts", import.meta.url)));
    expect(loaded.some((url) => url.includes("fastify"))).toBe(true);
    expect(loaded.some((url) => url.includes("@connectrpc"))).toBe(true);
  });
});
