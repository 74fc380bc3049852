import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/**
 * Serves the dashboard's built single-page app (`dist-dashboard/`, made by `vite build` at
 * build time) at `/`, with a strict Content-Security-Policy: scripts, styles, images and
 * requests only from this origin, no inline script or style, no `eval`, and Trusted Types
 * with no policy, so no HTML string can ever reach `innerHTML` (model text stays text). The
 * app talks only to this server's own API; nothing is fetched from anywhere else. Files are
 * registered one route each (no wildcard), so every other path keeps the API's 404.
 */

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "permissions-policy": "camera=(), microphone=(), geolocation=()",
};

/** Where the build puts the app, from both src/server/dashboard and dist/server/dashboard. */
export function defaultAssetsDir(): string {
  return fileURLToPath(new URL("../../../dist-dashboard/", import.meta.url));
}

export async function registerStaticAssets(app: FastifyInstance, dir: string): Promise<void> {
  if (!existsSync(`${dir}/index.html`)) {
    // Running from a source checkout that has not built the app: say how to build it.
    app.get("/", async (_request, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send(
          "The ballast dashboard is not built. Run `npm run build:dashboard -w ballast`, then restart the server.\n",
        );
    });
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    decorateReply: false,
    // Hashed file names under assets/ never change; the page itself is always revalidated.
    cacheControl: false,
    setHeaders: (reply, path) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      reply.header(
        "cache-control",
        /[\\/]assets[\\/]/.test(path) ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  });
}
