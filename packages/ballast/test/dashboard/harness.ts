import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, type ConsoleMessage, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { PolicyEngine } from "../../src/guard/policy-engine.ts";
import { type BallastServer, createServer } from "../../src/server/server.ts";
import { hashToken } from "../../src/server/tokens.ts";
import type { Seeded } from "./seed.ts";

/**
 * The pieces the browser tests share: the dashboard built by Vite into a temp folder, a real
 * server on 127.0.0.1 with tokens and RBAC over seeded runs, and Debian's Chromium driven by
 * playwright-core with every console message and CSP violation recorded per page.
 */

export const PACKAGE_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const OUTPUT_DIR = join(PACKAGE_DIR, "../../test-output/dashboard");

export const TOKENS = { operator: "tok-dash-operator-0123456789", viewer: "tok-dash-viewer-0123456789" };

const GRANTS = {
  schemaVersion: 1,
  version: "dashboard-test-1",
  roles: {
    operator: [
      {
        actions: ["health.read", "runs.*", "budget.read", "context.search", "audit.read", "metrics.read"],
        resources: ["default:*"],
      },
    ],
    viewer: [
      { actions: ["runs.read", "budget.read", "audit.read", "context.search"], resources: ["default:*"] },
    ],
  },
  subjects: {},
};

/** Builds the app the way `npm run build:dashboard` does, into `outDir`. */
export async function buildDashboard(outDir: string): Promise<void> {
  await build({
    configFile: join(PACKAGE_DIR, "dashboard/vite.config.ts"),
    logLevel: "error",
    build: { outDir, emptyOutDir: true },
  });
}

export async function startServer(
  seeded: Seeded,
  assetsDir: string,
): Promise<{ server: BallastServer; url: string }> {
  const policy = new PolicyEngine({
    rules: { schemaVersion: 1, version: "dashboard-test-1", rules: [] },
    grants: GRANTS,
    audit: seeded.audit,
  });
  const server = await createServer({
    journal: seeded.journal,
    engine: seeded.engine,
    context: seeded.context,
    audit: seeded.audit,
    policy,
    tokens: [
      { id: "operator", sha256: hashToken(TOKENS.operator), subject: "olga", roles: ["operator"] },
      { id: "viewer", sha256: hashToken(TOKENS.viewer), subject: "victor", roles: ["viewer"] },
    ],
    port: 0,
    rateLimit: false,
    pollMs: 50,
    dashboard: { assetsDir },
  });
  const { url } = await server.listen();
  return { server, url };
}

export interface PageWatch {
  errors: string[];
  cspViolations: string[];
}

export async function launchBrowser(): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), "ballast-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    timezoneId: "UTC",
    locale: "en-GB",
  });
  context.on("close", () => rmSync(profile, { recursive: true, force: true }));
  return context;
}

/** Records console errors, page errors, failed requests and CSP violations of a page. */
export async function watchPage(page: Page): Promise<PageWatch> {
  const watch: PageWatch = { errors: [], cspViolations: [] };
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // A refused request shows here too; the test that provokes one (a 403) checks it itself.
    if (/Failed to load resource: the server responded with a status of (401|403)/.test(text)) return;
    if (/Content.Security.Policy|Trusted Type/i.test(text)) watch.cspViolations.push(text);
    else watch.errors.push(text);
  });
  page.on("pageerror", (error) => watch.errors.push(`pageerror: ${error.message}`));
  // Runs in the page before its own scripts (injected by the browser, not subject to the CSP).
  await page.addInitScript({
    content: `window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
  });
  return watch;
}

/**
 * What the tests read in the page. Everything runs as functions (CDP compiles them): a string
 * would go through the page's `eval`, which its CSP refuses. The tests compile without DOM
 * types, hence this small description of the page's globals.
 */
interface PageGlobals {
  location: { hash: string };
  innerWidth: number;
  document: {
    documentElement: { scrollWidth: number };
    activeElement: {
      id: string;
      textContent: string | null;
      classList: { contains(name: string): boolean };
    } | null;
    getElementById(id: string): { contains(node: unknown): boolean } | null;
  };
  __csp?: string[];
  __mark?: string;
  __pwned?: unknown;
}

/** CSP violations the page itself saw (the event listener installed by `watchPage`). */
export async function pageCspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).__csp ?? []);
}

export function setHash(page: Page, hash: string): Promise<void> {
  return page.evaluate((h) => {
    (globalThis as unknown as PageGlobals).location.hash = h;
  }, hash);
}

export function getHash(page: Page): Promise<string> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).location.hash);
}

/** Marks the page, to prove later that it was not reloaded. */
export function markPage(page: Page, mark: string): Promise<void> {
  return page.evaluate((m) => {
    (globalThis as unknown as PageGlobals).__mark = m;
  }, mark);
}

export function pageGlobals(page: Page): Promise<{ mark?: string; pwned?: unknown; overflowX: number }> {
  return page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    return {
      mark: g.__mark,
      pwned: g.__pwned,
      overflowX: g.document.documentElement.scrollWidth - g.innerWidth,
    };
  });
}

export function focused(
  page: Page,
): Promise<{ id: string; text: string; waterfall: boolean; inMain: boolean }> {
  return page.evaluate(() => {
    const d = (globalThis as unknown as PageGlobals).document;
    const a = d.activeElement;
    return {
      id: a?.id ?? "",
      text: a?.textContent ?? "",
      waterfall: a?.classList.contains("wf-link") ?? false,
      inMain: d.getElementById("main")?.contains(a) ?? false,
    };
  });
}

/** Clears what `watchPage` recorded, so each test answers for its own pages. */
export async function resetWatch(page: Page, watch: PageWatch): Promise<void> {
  watch.errors.length = 0;
  watch.cspViolations.length = 0;
  await page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals;
    if (g.__csp) g.__csp.length = 0;
  });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/**
 * axe-core's WCAG 2.1 A/AA rules on the page as it is. axe compiles its message templates
 * with `new Function`, which the dashboard's CSP rightly refuses, so it runs in an isolated
 * world of the page (same DOM, its own script context, outside the page's CSP).
 */
export async function axeViolations(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { frameTree } = await cdp.send("Page.getFrameTree");
    const { executionContextId } = await cdp.send("Page.createIsolatedWorld", {
      frameId: frameTree.frame.id,
      worldName: "axe",
    });
    await cdp.send("Runtime.evaluate", { expression: AXE_SOURCE, contextId: executionContextId });
    const { result, exceptionDetails } = await cdp.send("Runtime.evaluate", {
      expression: `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
        .then((r) => r.passes.length === 0 ? ["axe ran no rule"] :
          r.violations.map((v) => v.id + ": " + v.help + " (" + v.nodes.map((n) => n.target.join(" ")).join(", ") + ")"))`,
      contextId: executionContextId,
      awaitPromise: true,
      returnByValue: true,
    });
    if (exceptionDetails !== undefined) throw new Error(`axe failed: ${exceptionDetails.text}`);
    return result.value as string[];
  } finally {
    await cdp.detach();
  }
}

export function outputPath(name: string): string {
  const path = join(OUTPUT_DIR, name);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}
