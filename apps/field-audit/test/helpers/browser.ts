import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";

/**
 * Headless Debian Chromium for the report tests (scripts/install-browser.sh installs it):
 * no network, no GPU, a throw-away profile. `openReport` loads a report from disk and
 * collects every CSP violation (the `securitypolicyviolation` event and console errors),
 * page error and dialog.
 */

export const CHROMIUM = "/usr/bin/chromium";

export interface BrowserSession {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserSession> {
  const profile = mkdtempSync(join(tmpdir(), "field-audit-chromium-"));
  // A fresh --user-data-dir per session (playwright passes it from the persistent context).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
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
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface OpenedReport {
  page: Page;
  violations: string[];
  consoleErrors: string[];
  pageErrors: string[];
  dialogs: string[];
}

export async function openReport(session: BrowserSession, htmlPath: string): Promise<OpenedReport> {
  const page = await session.context.newPage();
  const opened: OpenedReport = { page, violations: [], consoleErrors: [], pageErrors: [], dialogs: [] };
  await page.exposeFunction("__reportViolation", (text: string) => opened.violations.push(text));
  // Browser-side code as a string: the test's TypeScript has no DOM types.
  await page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      window.__reportViolation(e.violatedDirective + " blocked " + (e.blockedURI || "inline")));`,
  });
  page.on("console", (m) => {
    if (m.type() === "error" || /Content Security Policy/i.test(m.text()))
      opened.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => opened.pageErrors.push(e.message));
  page.on("dialog", async (d) => {
    opened.dialogs.push(d.message());
    await d.dismiss();
  });
  await page.goto(pathToFileURL(htmlPath).href);
  await page.waitForSelector("body[data-ready='1']", { timeout: 15_000 });
  return opened;
}
