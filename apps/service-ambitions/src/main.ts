#!/usr/bin/env -S node --conditions=ballast-source
// The `service-ambitions` command (`npm run demo` runs its `demo` subcommand).
import { runCli } from "./cli/program.ts";

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  env: process.env,
  handleSignals: true,
});
