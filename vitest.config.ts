import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["ballast-source"] },
  ssr: { resolve: { conditions: ["ballast-source"], externalConditions: ["ballast-source"] } },
  test: {
    include: [
      "packages/*/src/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "apps/*/src/**/*.test.ts",
      "apps/*/test/**/*.test.ts",
    ],
    setupFiles: ["./packages/ballast/test/fail-on-warnings.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    coverage: {
      provider: "v8",
      include: ["packages/ballast/src/**/*.ts"],
      exclude: ["**/*.test.ts", "packages/ballast/src/**/index.ts", "packages/ballast/src/cli/main.ts"],
      reporter: ["text-summary", "json-summary"],
      thresholds: {
        "packages/ballast/src/**": { lines: 85 },
        "packages/ballast/src/journal/**": { lines: 90 },
        "packages/ballast/src/flow/**": { lines: 90 },
      },
    },
  },
});
