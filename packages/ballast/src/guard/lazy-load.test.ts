import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isCedarLoaded } from "./cedar.ts";
import * as guard from "./index.ts";

const RULES = { schemaVersion: 1, version: "v", rules: [] };
const GRANTS = { schemaVersion: 1, version: "g", roles: {} };

describe("lazy loading of Cedar", () => {
  it("does not load Cedar on import of ballast/guard, only when a policy is compiled", () => {
    expect(typeof guard.PolicyEngine).toBe("function");
    expect(isCedarLoaded()).toBe(false);
    new guard.PolicyEngine({ rules: { ...RULES, version: "bad version" }, grants: GRANTS });
    expect(isCedarLoaded()).toBe(false);
    new guard.PolicyEngine({ rules: RULES, grants: GRANTS });
    expect(isCedarLoaded()).toBe(true);
  });

  it("does not load Cedar when the ballast root is imported", () => {
    const root = fileURLToPath(new URL("../index.ts", import.meta.url));
    const script = `
      import { createRequire } from "node:module";
      await import(${JSON.stringify(root)});
      const cache = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify(cache.filter((k) => k.includes("cedar"))));
    `;
    const out = execFileSync(
      process.execPath,
      ["--conditions=ballast-source", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    expect(JSON.parse(out.trim().split("\n").at(-1)!)).toEqual([]);
  });
});
