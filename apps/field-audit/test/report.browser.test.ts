import { mkdirSync, readFileSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLocalModel } from "ballast/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config.ts";
import { type AuditResult, runAudit } from "../src/pipeline.ts";
import { type BrowserSession, launchBrowser, openReport } from "./helpers/browser.ts";
import { smallRun, tempDir } from "./helpers/run-fixture.ts";

// Both report modes opened from disk in headless Debian Chromium, with captions that try
// to break out of the payload script and to inject markup. Screenshots go to
// test-output/field-audit/ at the repository root.

const SHOTS = fileURLToPath(new URL("../../../test-output/field-audit/", import.meta.url));
const HOSTILE =
  'Rock ahead</script><script>window.__pwned = 1; alert(1)</script><img src=x onerror="window.__pwned = 2"><!-- <b>bold</b>';

let session: BrowserSession;
let single: AuditResult;
let split: AuditResult;

beforeAll(async () => {
  const { dir } = await smallRun(31, 60);
  const out = tempDir();
  const model = createLocalModel({ seed: 1, modelId: "hostile-vision", respond: () => HOSTILE });
  const base = { runDir: dir, journalHome: join(out, "journal"), logLevel: "error" } as const;
  single = await runAudit(resolveConfig({ ...base, out: join(out, "single.html") }, {}), { model, env: {} });
  split = await runAudit(resolveConfig({ ...base, out: join(out, "split.html"), reportMode: "split" }, {}), {
    model,
    env: {},
  });
  session = await launchBrowser();
  mkdirSync(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await session?.close();
});

describe.each(["single", "split"] as const)("%s report in headless Chromium", (mode) => {
  it("renders the first frame, the map, the charts and the event cards with 0 CSP violations", async () => {
    const result = mode === "single" ? single : split;
    expect(result.detection.events.length).toBeGreaterThanOrEqual(1);
    const opened = await openReport(session, result.report.html);
    const { page } = opened;
    await page.screenshot({ path: join(SHOTS, `${mode}.png`), fullPage: true });

    expect(opened.violations).toEqual([]);
    expect(opened.consoleErrors).toEqual([]);
    expect(opened.pageErrors).toEqual([]);
    expect(opened.dialogs).toEqual([]);

    const state = await page.evaluate(`(() => {
      const first = document.querySelector("[data-testid=first-frame] img");
      return {
        firstFrameWidth: first ? first.naturalWidth : 0,
        cards: document.querySelectorAll(".card").length,
        cardImages: [...document.querySelectorAll(".card img")].filter((i) => i.naturalWidth > 0).length,
        markers: document.querySelectorAll("svg .marker").length,
        path: document.querySelector("[data-testid=gps-path]")?.getAttribute("points")?.split(" ").length ?? 0,
        charts: document.querySelectorAll("svg[data-chart]").length,
        eventLines: document.querySelectorAll("svg[data-chart=score] line[data-event]").length,
        captions: [...document.querySelectorAll("[data-testid=caption]")].map((c) => c.textContent),
        overlayImage: document.querySelector("[data-testid=map-overlay] img")?.naturalWidth ?? 0,
        pwned: window.__pwned ?? null,
        injected: document.querySelectorAll("img[src=x], b").length,
        scripts: document.querySelectorAll("script:not([type=application\\\\/json])").length,
        prominence: document.querySelector(".card dl")?.textContent ?? "",
      };
    })()`);
    const n = result.detection.events.length;
    expect(state).toMatchObject({
      cards: n,
      cardImages: n,
      markers: n,
      charts: 7,
      eventLines: n,
      pwned: null,
      injected: 0,
    });
    expect((state as { firstFrameWidth: number }).firstFrameWidth).toBe(160);
    expect((state as { overlayImage: number }).overlayImage).toBe(160);
    expect((state as { path: number }).path).toBeGreaterThan(30);
    // The hostile caption is shown as text, whole.
    expect((state as { captions: string[] }).captions).toEqual(new Array(n).fill(HOSTILE));
    expect((state as { prominence: string }).prominence).toMatch(
      /Prominence.*Width.*Bases.*frames \d+ – \d+/s,
    );
    // Only ballast's own scripts: the app (single) or the five data files and the app (split).
    expect((state as { scripts: number }).scripts).toBe(mode === "single" ? 1 : 6);
  });
});

describe("report files", () => {
  it("single is self-contained with each image once; split is materially smaller and holds JSON + images", async () => {
    const html = readFileSync(single.report.html, "utf8");
    expect(html).toContain('<script type="application/json" id="payload-events">');
    for (const id of ["payload-events", "payload-gps-path", "payload-features", "payload-telemetry"]) {
      expect(html).toContain(`id="${id}"`);
    }
    expect(html).not.toContain("</script><script>window.__pwned");
    expect(html).toContain("\\u003c/script\\u003e");
    expect(html).not.toMatch(/\bsrc="(?!data:)/);
    const images = [...html.matchAll(/data:image\/jpeg;base64,([A-Za-z0-9+/=]+)/g)].map((m) => m[1]);
    expect(images.length).toBe(new Set(images).size);
    expect(images.length).toBe(1 + single.detection.events.length - duplicateFrames(single));

    expect(split.report.htmlBytes * 5).toBeLessThan(single.report.htmlBytes);
    const assets = split.report.assetsDir!;
    expect((await readdir(join(assets, "data"))).sort()).toEqual([
      "payload-events.js",
      "payload-features.js",
      "payload-gps-path.js",
      "payload-images.js",
      "payload-telemetry.js",
    ]);
    expect((await readdir(join(assets, "images"))).length).toBeGreaterThanOrEqual(2);
    expect(statSync(split.report.html).size).toBe(split.report.htmlBytes);
    const splitHtml = readFileSync(split.report.html, "utf8");
    expect(splitHtml).not.toContain("Rock ahead");
    expect(splitHtml).toMatch(
      /Content-Security-Policy" content="default-src 'none'; script-src 'nonce-[\w-]+'/,
    );
  });
});

function duplicateFrames(result: AuditResult): number {
  const frames = result.detection.events.map((e) => e.frame_idx);
  return frames.includes(0) ? 1 : 0;
}
