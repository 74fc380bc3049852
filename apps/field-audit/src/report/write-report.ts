import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { commitDir, stagingDir, writeFileAtomic } from "../util/atomic.ts";
import type { ReportPayloads } from "./payload.ts";

/**
 * Writes the HTML report.
 *
 * - `single`: one self-contained file. Payloads travel in `<script type="application/json">`
 *   blocks, escaped so no `</script>` or `<!--` can end them; images are data: URLs in
 *   `payload-images`, one per image.
 * - `split`: a small HTML file plus `<name>_assets/` with `app.js`, `app.css`, one JS file
 *   per payload (a JSON *string* the app parses with JSON.parse, so it opens from disk where
 *   browsers block fetch() over file://) and the images as files.
 *
 * Both use a fresh nonce per report and a strict CSP: `default-src 'none'`, scripts and
 * styles only with the nonce, images only from data: (single) or the report's own folder
 * (split). The report appears atomically: assets folder first, then the HTML file.
 */

export type ReportMode = "single" | "split";

export interface WrittenReport {
  mode: ReportMode;
  html: string;
  htmlBytes: number;
  assetsDir?: string;
  assetBytes: number;
  totalBytes: number;
  nonce: string;
}

const CLIENT = new URL("./client/", import.meta.url);
const clientFile = (name: string) => readFileSync(new URL(name, CLIENT), "utf8");

const PAYLOAD_IDS = {
  events: "payload-events",
  gpsPath: "payload-gps-path",
  features: "payload-features",
  telemetry: "payload-telemetry",
} as const;

/** JSON safe inside a `<script>` element: no `<`, `>` or `&` survive, nor U+2028/9. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function contentSecurityPolicy(nonce: string, mode: ReportMode): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    mode === "single" ? "img-src data:" : "img-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

function jsonBlock(id: string, value: unknown): string {
  return `<script type="application/json" id="${id}">${scriptSafeJson(value)}</script>`;
}

function page(title: string, nonce: string, mode: ReportMode, head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(nonce, mode)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
${head}
</head>
<body data-mode="${mode}">
<div id="app"><noscript>This report needs JavaScript to draw its charts.</noscript></div>
${body}
</body>
</html>
`;
}

export async function writeReport(
  htmlPath: string,
  mode: ReportMode,
  payloads: ReportPayloads,
): Promise<WrittenReport> {
  const nonce = randomBytes(18).toString("base64url");
  const title = `Field audit — ${payloads.meta.run_id}`;
  const data = {
    [PAYLOAD_IDS.events]: payloads.events,
    [PAYLOAD_IDS.gpsPath]: payloads.gpsPath,
    [PAYLOAD_IDS.features]: payloads.features,
    [PAYLOAD_IDS.telemetry]: payloads.telemetry,
  };

  if (mode === "single") {
    const images = Object.fromEntries(
      payloads.images.map((img) => [
        img.id,
        `data:${img.mediaType};base64,${Buffer.from(img.bytes).toString("base64")}`,
      ]),
    );
    const body = [
      jsonBlock("payload-meta", payloads.meta),
      ...Object.entries(data).map(([id, value]) => jsonBlock(id, value)),
      jsonBlock("payload-images", images),
      `<script nonce="${nonce}">${clientFile("app.js").replace(/<\/script/gi, "<\\/script")}</script>`,
    ].join("\n");
    const html = page(title, nonce, mode, `<style nonce="${nonce}">${clientFile("app.css")}</style>`, body);
    await writeFileAtomic(htmlPath, html);
    const htmlBytes = Buffer.byteLength(html);
    return { mode, html: htmlPath, htmlBytes, assetBytes: 0, totalBytes: htmlBytes, nonce };
  }

  const assetsName = `${basename(htmlPath).replace(/\.html?$/i, "")}_assets`;
  if (!/^[A-Za-z0-9._-]+$/.test(assetsName)) {
    throw new Error(
      `The report name "${basename(htmlPath)}" must use letters, digits, ".", "_" or "-" in split mode.`,
    );
  }
  const assetsDir = join(dirname(htmlPath), assetsName);
  await mkdir(dirname(htmlPath), { recursive: true });
  const staging = await stagingDir(assetsDir);
  await mkdir(join(staging, "data"));
  await mkdir(join(staging, "images"));
  let assetBytes = 0;
  const put = async (rel: string, content: string | Uint8Array) => {
    await writeFile(join(staging, rel), content);
    assetBytes += typeof content === "string" ? Buffer.byteLength(content) : content.byteLength;
  };
  await put("app.js", clientFile("app.js"));
  await put("app.css", clientFile("app.css"));
  const images: Record<string, string> = {};
  for (const img of payloads.images) {
    const file = `${img.id}.${img.mediaType === "image/png" ? "png" : "jpg"}`;
    await put(`images/${file}`, img.bytes);
    images[img.id] = `${assetsName}/images/${file}`;
  }
  const pointers: string[] = [];
  const tags: string[] = [];
  for (const [id, value] of Object.entries({ ...data, "payload-images": images })) {
    const json = JSON.stringify(value);
    const script = `(window.fieldAuditData = window.fieldAuditData || {})[${JSON.stringify(id)}] = ${JSON.stringify(json)};\n`;
    const rel = `data/${id}.js`;
    await put(rel, script);
    const pointer = {
      asset: `${assetsName}/${rel}`,
      bytes: Buffer.byteLength(json),
      sha256: createHash("sha256").update(json).digest("hex"),
    };
    pointers.push(jsonBlock(id, pointer));
    tags.push(`<script nonce="${nonce}" src="${escapeHtml(pointer.asset)}"></script>`);
  }
  const body = [
    jsonBlock("payload-meta", payloads.meta),
    ...pointers,
    ...tags,
    `<script nonce="${nonce}" src="${assetsName}/app.js"></script>`,
  ].join("\n");
  const html = page(
    title,
    nonce,
    mode,
    `<link rel="stylesheet" nonce="${nonce}" href="${assetsName}/app.css">`,
    body,
  );
  await commitDir(staging, assetsDir);
  await writeFileAtomic(htmlPath, html);
  const htmlBytes = (await stat(htmlPath)).size;
  return {
    mode,
    html: htmlPath,
    htmlBytes,
    assetsDir,
    assetBytes,
    totalBytes: htmlBytes + assetBytes,
    nonce,
  };
}
