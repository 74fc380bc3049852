// Unexpected process warnings fail the test that caused them (CI gate from seed 002).
// A warning a test provokes on purpose is expected with `expectWarning` below.
import { afterEach, expect } from "vitest";

const seen: string[] = [];
const expected = new Set<string>();

process.on("warning", (warning) => {
  if (expected.has(warning.name) || expected.has(warning.message)) return;
  seen.push(`${warning.name}: ${warning.message}`);
});

afterEach(() => {
  const warnings = seen.splice(0);
  expected.clear();
  expect(warnings, "unexpected process warnings").toEqual([]);
});

/** Declares that the current test provokes a warning with this name or message. */
export function expectWarning(nameOrMessage: string): void {
  expected.add(nameOrMessage);
}
