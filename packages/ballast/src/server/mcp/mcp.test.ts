import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openContext } from "../../context/engine.ts";
import { createBallast } from "../../flow/engine.ts";
import { createLogger } from "../../flow/observe.ts";
import { openJournal } from "../../journal/index.ts";
import { createDispatcher } from "../server.ts";
import { type Fixture, fixture, greet, serverFor, TOKENS } from "../test-harness.ts";
import { createMcpServer } from "./mcp-server.ts";

/** The MCP server, driven by the MCP SDK's own client over memory, streamable HTTP and stdio. */

let fx: Fixture;

beforeEach(async () => {
  fx = await fixture();
});

afterEach(async () => {
  await fx.close();
});

type TextContent = { type: "text"; text: string };
const textOf = (result: unknown) => ((result as { content: TextContent[] }).content[0] as TextContent).text;

async function seed(): Promise<string> {
  const engine = createBallast({ journal: fx.journal, logger: createLogger({ level: "silent" }) });
  const handle = await engine.start(greet, "mcp", { runId: "mcp-run" });
  await handle.wait();
  return handle.runId;
}

describe("MCP tools and resources", () => {
  it("lists runs, inspects a run, searches the context, and reads run resources", async () => {
    const runId = await seed();
    const context = await openContext({ path: join(fx.home, "context.db") });
    await context.upsert([{ id: "doc-1", text: "the journal is the write-ahead log" }]);
    const dispatcher = createDispatcher({ journal: fx.journal, context, audit: fx.audit });
    const server = createMcpServer({ dispatcher, version: "test" });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: "test", version: "1" });
    await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
    try {
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(["get_run", "list_runs", "search_context"]);

      const list = JSON.parse(textOf(await client.callTool({ name: "list_runs", arguments: { limit: 5 } })));
      expect(list.runs.map((r: { id: string }) => r.id)).toEqual([runId]);

      const run = JSON.parse(
        textOf(await client.callTool({ name: "get_run", arguments: { runId, limit: 2 } })),
      );
      expect(run.run).toMatchObject({ id: runId, status: "completed", output: "hello mcp" });
      expect(run.budget).toMatchObject({ runId, mode: "soft" });
      expect(run.events).toHaveLength(2);
      expect(run.nextSeq).toBe(2);

      const missing = await client.callTool({ name: "get_run", arguments: { runId: "nope" } });
      expect(missing.isError).toBe(true);
      expect(JSON.parse(textOf(missing))).toMatchObject({ error: { code: "not_found" } });

      const found = JSON.parse(
        textOf(
          await client.callTool({ name: "search_context", arguments: { query: "write-ahead log", k: 1 } }),
        ),
      );
      expect(found.results.map((r: { id: string }) => r.id)).toEqual(["doc-1"]);

      const resources = await client.listResources();
      expect(resources.resources.map((r) => r.uri)).toEqual(
        expect.arrayContaining(["ballast://runs", `ballast://runs/${runId}`]),
      );
      const templates = await client.listResourceTemplates();
      expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual(["ballast://runs/{runId}"]);
      const one = await client.readResource({ uri: `ballast://runs/${runId}` });
      expect(JSON.parse((one.contents[0] as { text: string }).text)).toMatchObject({ id: runId });
      const all = await client.readResource({ uri: "ballast://runs" });
      expect(JSON.parse((all.contents[0] as { text: string }).text).runs).toHaveLength(1);
      await expect(client.readResource({ uri: "ballast://runs/nope" })).rejects.toThrow(/not_found/);
    } finally {
      await client.close();
      await server.close();
      await context.close();
    }
  });
});

describe("MCP over streamable HTTP", () => {
  it("serves /mcp with the API's tokens and RBAC", async () => {
    const runId = await seed();
    const server = await serverFor(fx, { auth: true, api: false, mcp: true });
    try {
      const { url } = await server.listen();
      const connect = async (token?: string) => {
        const client = new Client({ name: "test", version: "1" });
        const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
          requestInit: { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
        });
        await client.connect(transport);
        return client;
      };
      await expect(connect()).rejects.toThrow(/401|unauthorized/i);
      await expect(connect(TOKENS.bob)).rejects.toThrow(/403|forbidden/i);

      // alice (tenant acme) sees no default-tenant runs; root sees them.
      const alice = await connect(TOKENS.alice);
      const aliceRuns = JSON.parse(textOf(await alice.callTool({ name: "list_runs", arguments: {} })));
      expect(aliceRuns.runs).toEqual([]);
      const denied = await alice.callTool({ name: "get_run", arguments: { runId } });
      expect(JSON.parse(textOf(denied))).toMatchObject({ error: { code: "forbidden" } });
      await alice.close();

      const root = await connect(TOKENS.root);
      const rootRun = JSON.parse(textOf(await root.callTool({ name: "get_run", arguments: { runId } })));
      expect(rootRun.run.id).toBe(runId);
      await root.close();

      expect((await fetch(`${url}/mcp`)).status).toBe(405);
      expect((await fetch(`${url}/v1/runs`)).status).toBe(404);
      expect(
        (await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${TOKENS.root}` } })).status,
      ).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe("ballast mcp over stdio", () => {
  it("answers the SDK's stdio client from a child process", async () => {
    await fx.journal.close();
    const journal = await openJournal({ home: fx.home });
    const engine = createBallast({ journal, logger: createLogger({ level: "silent" }) });
    await (await engine.start(greet, "stdio", { runId: "stdio-run" })).wait();
    await journal.close();
    // A tiny entry point mounting only `ballast mcp`, run by Node from source.
    const entry = join(fx.home, "mcp-entry.ts");
    const commands = new URL("../../cli/commands/mcp.ts", import.meta.url).pathname;
    writeFileSync(
      entry,
      [
        `import { Command } from ${JSON.stringify(import.meta.resolve("commander"))};`,
        `import { registerMcpCommand } from ${JSON.stringify(commands)};`,
        'const program = new Command("ballast").option("--home <dir>").option("--json");',
        "registerMcpCommand(program);",
        "await program.parseAsync(process.argv);",
      ].join("\n"),
    );
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=ballast-source", "--no-warnings", entry, "mcp", "--home", fx.home],
      cwd: new URL("../../..", import.meta.url).pathname,
      env: { ...process.env, BALLAST_LOG_LEVEL: "silent" } as Record<string, string>,
      stderr: "pipe",
    });
    const client = new Client({ name: "test", version: "1" });
    let stderr = "";
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    try {
      await client.connect(transport).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${stderr}`);
      });
      const runs = JSON.parse(textOf(await client.callTool({ name: "list_runs", arguments: {} })));
      expect(runs.runs.map((r: { id: string }) => r.id)).toEqual(["stdio-run"]);
      const run = JSON.parse(
        textOf(await client.callTool({ name: "get_run", arguments: { runId: "stdio-run" } })),
      );
      expect(run.run.output).toBe("hello stdio");
    } finally {
      await client.close();
    }
    // The fixture's close() closes the journal again: reopen one for it.
    fx.journal = await openJournal({ home: fx.home });
  });
});
