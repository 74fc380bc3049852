import { describe, expect, it } from "vitest";
import { networkDenyFilter } from "./seccomp.ts";

describe("seccomp network filter", () => {
  it("builds a classic BPF program per supported architecture", () => {
    const x64 = networkDenyFilter("x64")!;
    expect(x64.length).toBe(10 * 8);
    // Last two instructions return ALLOW then TRAP.
    expect(x64.readUInt32LE(8 * 8 + 4)).toBe(0x7fff0000);
    expect(x64.readUInt32LE(9 * 8 + 4)).toBe(0x00030000);
    // The arch check jumps to TRAP on mismatch: from instruction 1, 7 ahead.
    expect(x64.readUInt8(1 * 8 + 3)).toBe(7);
    expect(networkDenyFilter("arm64")!.length).toBe(9 * 8);
    expect(networkDenyFilter("ia32")).toBeUndefined();
    expect(networkDenyFilter()).toBeDefined();
  });
});
