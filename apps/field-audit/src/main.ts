#!/usr/bin/env -S node --conditions=ballast-source
import { main } from "./cli.ts";

process.exitCode = await main(process.argv.slice(2));
