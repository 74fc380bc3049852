import type { Command } from "commander";
import { vi } from "vitest";
import { reportError } from "../src/cli/output.ts";

export interface CliResult {
  out: string;
  err: string;
  exitCode: number;
}

/**
 * Runs a `ballast` command tree in-process, as `main.ts` would, against `home`: captures
 * stdout/stderr, turns thrown errors into the CLI's exit code, and leaves process.exitCode clean.
 */
export async function runCli(program: Command, home: string, args: string[]): Promise<CliResult> {
  let out = "";
  let err = "";
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  process.exitCode = 0;
  try {
    await program.exitOverride().parseAsync([...args, "--home", home], { from: "user" });
  } catch (error) {
    process.exitCode = reportError(error, args.includes("--json"));
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, exitCode };
}
