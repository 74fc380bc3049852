import { existsSync } from "node:fs";
import type { Command } from "commander";
import { ValidationError } from "../../errors.ts";
import { defaultCachePath, ResponseCache } from "../../models/cache.ts";
import { parseBytes, parseDuration } from "../../models/units.ts";
import { emit, type GlobalOptions, table } from "../output.ts";

/**
 * `ballast cache stats|validate|purge`: maintenance of the model response cache (by default
 * `model-cache.db` in the ballast home). Counts are exact: they come from the cache file,
 * where every process using the cache adds its counters.
 */

interface CacheCommandOptions extends GlobalOptions {
  path?: string;
}

function openExisting(options: CacheCommandOptions, mode: "read-write" | "read-only"): ResponseCache {
  const path = options.path ?? defaultCachePath(options.home);
  if (!existsSync(path)) {
    throw new ValidationError(
      "cache_not_found",
      `No model cache at ${path}. Run a pipeline with the cache on first, or pass --path <file>.`,
    );
  }
  return new ResponseCache({ path, mode });
}

function withCache<T>(
  options: CacheCommandOptions,
  mode: "read-write" | "read-only",
  fn: (c: ResponseCache) => T,
): T {
  const cache = openExisting(options, mode);
  try {
    return fn(cache);
  } finally {
    cache.close();
  }
}

function mb(bytes: number): string {
  return bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 ** 2
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

export function registerCacheCommand(program: Command): void {
  const cache = program
    .command("cache")
    .description("inspect, verify and trim the model response cache")
    .option("--path <file>", "the cache file (default: model-cache.db in the ballast home)");

  cache
    .command("stats")
    .description("entries, size and counters (hits, misses, corrupt, evictions, ...)")
    .action((_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<CacheCommandOptions>();
      const stats = withCache(options, "read-only", (c) => c.stats());
      emit(options, stats, () =>
        [
          `cache ${stats.path}`,
          table(
            ["entries", "size", "hits", "misses", "corrupt", "expired", "evictions", "writes", "purged"],
            [
              [
                String(stats.entries),
                mb(stats.bytes),
                String(stats.hits),
                String(stats.misses),
                String(stats.corrupt),
                String(stats.expired),
                String(stats.evictions),
                String(stats.writes),
                String(stats.purged),
              ],
            ],
          ),
          ...(Object.keys(stats.byStage).length > 0
            ? [
                "",
                table(
                  ["stage", "entries", "size"],
                  Object.entries(stats.byStage).map(([stage, s]) => [stage, String(s.entries), mb(s.bytes)]),
                ),
              ]
            : []),
        ].join("\n"),
      );
    });

  cache
    .command("validate")
    .description("re-hash every entry against the manifest; exit 1 if any is corrupt")
    .option("--fix", "remove the corrupt entries")
    .action((opts: { fix?: boolean }, command: Command) => {
      const options = command.optsWithGlobals<CacheCommandOptions>();
      const report = withCache(options, opts.fix ? "read-write" : "read-only", (c) =>
        c.validate({ fix: opts.fix === true }),
      );
      emit(options, report, () =>
        [
          `checked ${report.checked}: ${report.ok} ok, ${report.corrupt} corrupt${opts.fix ? `, ${report.purged} removed` : ""}`,
          ...report.corruptKeys.map((key) => `corrupt: ${key}`),
          ...(report.corrupt > 0 && !opts.fix ? ["run `ballast cache validate --fix` to remove them"] : []),
        ].join("\n"),
      );
      if (report.corrupt > report.purged) process.exitCode = 1;
    });

  cache
    .command("purge")
    .description("remove entries: by age, down to a size, expired, corrupt, or all")
    .option("--older-than <duration>", "entries created longer ago than this (e.g. 7d, 12h)")
    .option("--max-size <size>", "evict least recently used entries down to this size (e.g. 500MB)")
    .option("--expired", "entries past their TTL")
    .option("--corrupt", "entries whose body does not match its SHA-256")
    .option("--all", "every entry")
    .action(
      (
        opts: { olderThan?: string; maxSize?: string; expired?: boolean; corrupt?: boolean; all?: boolean },
        command: Command,
      ) => {
        const options = command.optsWithGlobals<CacheCommandOptions>();
        if (!(opts.olderThan || opts.maxSize || opts.expired || opts.corrupt || opts.all)) {
          throw new ValidationError(
            "purge_needs_criteria",
            "cache purge needs what to remove: --older-than <duration>, --max-size <size>, --expired, --corrupt or --all.",
          );
        }
        const criteria = {
          ...(opts.olderThan === undefined
            ? {}
            : { olderThanMs: parseDuration(opts.olderThan, "--older-than") }),
          ...(opts.maxSize === undefined ? {} : { maxBytes: parseBytes(opts.maxSize, "--max-size") }),
          ...(opts.expired ? { expired: true } : {}),
          ...(opts.corrupt ? { corrupt: true } : {}),
          ...(opts.all ? { all: true } : {}),
        };
        const report = withCache(options, "read-write", (c) => c.purge(criteria));
        emit(
          options,
          report,
          () =>
            `removed ${report.removed} entries (${mb(report.bytesFreed)}); ${report.entries} left (${mb(report.bytes)})`,
        );
      },
    );
}
