import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The dashboard is built once, at package build time, into ../dist-dashboard and served as
// static files by `ballast serve`. Everything it needs is bundled: no CDN, no web fonts, no
// inline script or style (the server's CSP forbids both), no data: URLs.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  publicDir: "public",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../dist-dashboard", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
  },
});
