import { describe, expect, it } from "vitest";
import { createProgress, type ProgressStream } from "./progress.ts";

function fakeStream(isTTY: boolean): ProgressStream & { output: string } {
  const stream = {
    output: "",
    isTTY,
    columns: 100,
    write(chunk: string, callback?: (error?: Error | null) => void) {
      stream.output += chunk;
      callback?.();
      return true;
    },
  };
  return stream;
}

const plain = (s: string) => s.replace(/\x1B(?:\[[0-9;?]*[A-Za-z]|[78])/g, "");

describe("createProgress", () => {
  it("draws a bar with the label, percentage and counts on a terminal", () => {
    const stream = fakeStream(true);
    const progress = createProgress({ total: 4, label: "verifying run-1", stream });
    expect(progress.drawing).toBe(true);
    progress.tick();
    progress.tick(2);
    progress.update(4);
    progress.stop();
    progress.stop();
    expect(progress.drawing).toBe(false);
    const text = plain(stream.output);
    expect(text).toContain("verifying run-1 [");
    expect(text).toContain("0% | 0/4");
    expect(text).toContain("100% | 4/4");
    expect(stream.output.endsWith("\n")).toBe(true);
    const after = stream.output.length;
    progress.tick();
    progress.update(9);
    expect(stream.output.length).toBe(after);
  });

  it("writes nothing when the stream is not a terminal", () => {
    const stream = fakeStream(false);
    const progress = createProgress({ total: 3, label: "replaying", stream });
    progress.tick();
    progress.update(3);
    progress.stop();
    expect(progress.drawing).toBe(false);
    expect(stream.output).toBe("");
  });

  it("writes nothing in json mode, even on a terminal", () => {
    const stream = fakeStream(true);
    const progress = createProgress({ total: 3, label: "replaying", stream, json: true });
    progress.tick();
    progress.stop();
    expect(progress.drawing).toBe(false);
    expect(stream.output).toBe("");
  });

  it("defaults to stderr, and stays silent there when it is not a terminal", () => {
    const wasTTY = process.stderr.isTTY;
    const write = process.stderr.write;
    let written = "";
    try {
      Object.defineProperty(process.stderr, "isTTY", { value: false, configurable: true });
      process.stderr.write = ((chunk: string) => {
        written += chunk;
        return true;
      }) as typeof process.stderr.write;
      const progress = createProgress({ total: 2, label: "x" });
      progress.tick();
      progress.stop();
    } finally {
      process.stderr.write = write;
      Object.defineProperty(process.stderr, "isTTY", { value: wasTTY, configurable: true });
    }
    expect(written).toBe("");
  });
});
