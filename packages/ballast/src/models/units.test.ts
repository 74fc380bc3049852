import { describe, expect, it } from "vitest";
import { parseBytes, parseDuration } from "./units.ts";

describe("parseDuration", () => {
  it("reads milliseconds and units", () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration("250")).toBe(250);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("7d")).toBe(604_800_000);
    expect(parseDuration("2W")).toBe(1_209_600_000);
  });

  it("rejects what is not a duration, naming the option", () => {
    expect(() => parseDuration("soon", "--older-than")).toThrow(/--older-than "soon" is not a duration/);
    expect(() => parseDuration(-1)).toThrow(/not a duration/);
    expect(() => parseDuration(Number.NaN)).toThrow(/not a duration/);
  });
});

describe("parseBytes", () => {
  it("reads bytes and units", () => {
    expect(parseBytes(1024)).toBe(1024);
    expect(parseBytes("512")).toBe(512);
    expect(parseBytes("2KB")).toBe(2000);
    expect(parseBytes("1.5 MB")).toBe(1_500_000);
    expect(parseBytes("1GiB")).toBe(1024 ** 3);
    expect(parseBytes("3kib")).toBe(3072);
  });

  it("rejects what is not a size", () => {
    expect(() => parseBytes("lots", "--max-size")).toThrow(/--max-size "lots" is not a size/);
    expect(() => parseBytes(-5)).toThrow(/not a size/);
  });
});
