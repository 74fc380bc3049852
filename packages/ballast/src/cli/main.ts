#!/usr/bin/env node
import { reportError } from "./output.ts";
import { buildProgram } from "./program.ts";

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error, process.argv.includes("--json"));
}
