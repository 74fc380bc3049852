import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type JsonValue, sha256Hex } from "../canonical.ts";
import { ValidationError } from "../errors.ts";
import { resolveHome } from "../home.ts";

/**
 * The response cache: exact match, content-addressed by the SHA-256 of the canonical
 * request, in one SQLite file (node:sqlite). The `manifest` table holds each entry's
 * SHA-256, size, stage and times; the body sits in `bodies`. Every read re-hashes the body
 * and compares it with the manifest: a mismatch (or an unreadable body) is counted as
 * `corrupt`, served as a miss, and purged when the cache is writable.
 *
 * Limits: an LRU cap on body bytes (least recently read first) and a TTL per stage. Errors
 * are never stored: callers only `set` successful results. Counters (hits, misses, corrupt,
 * ...) live in the file too, so `ballast cache stats` reports them exactly across processes.
 *
 * Writes are behind the call: `set` queues the entry (reads see it at once) and one
 * transaction writes every queued entry, access time and counter on the next turn of the
 * event loop, so a model call never waits for a commit or a WAL checkpoint. `flush()` and
 * `close()` write what is queued; a crash loses at most the last turn's entries, which is
 * harmless for a cache.
 */

export type CacheMode = "read-write" | "read-only" | "off";

/** The model cache's file in a ballast home (default `$BALLAST_HOME`, else `./.ballast`). */
export function defaultCachePath(home?: string): string {
  return `${resolveHome(home)}/model-cache.db`;
}

export interface CacheOptions {
  /** The SQLite file. */
  path: string;
  mode?: CacheMode;
  /** LRU cap on the total size of cached bodies, in bytes. */
  maxBytes?: number;
  /** Time to live of new entries, in ms: a default and per stage. Undefined = forever. */
  ttlMs?: { default?: number; stages?: Record<string, number> };
  /** Epoch milliseconds; injectable for tests. */
  now?: () => number;
}

export type CacheKind = "generate" | "stream" | "embed";

export interface CacheEntryMeta {
  kind: CacheKind;
  stage?: string | undefined;
  model?: string | undefined;
}

export interface CacheHit {
  value: JsonValue;
  createdAt: number;
}

export interface CacheCounters {
  hits: number;
  misses: number;
  corrupt: number;
  expired: number;
  evictions: number;
  writes: number;
  purged: number;
}

export interface CacheStats extends CacheCounters {
  path: string;
  mode: CacheMode;
  entries: number;
  bytes: number;
  maxBytes: number | null;
  byKind: Record<string, { entries: number; bytes: number }>;
  byStage: Record<string, { entries: number; bytes: number }>;
  oldestAt: string | null;
  newestAt: string | null;
}

export interface ValidateReport {
  checked: number;
  ok: number;
  corrupt: number;
  corruptKeys: string[];
  /** Corrupt entries removed (with `fix`). */
  purged: number;
}

export interface PurgeOptions {
  /** Removes entries created more than this many ms ago. */
  olderThanMs?: number;
  /** Evicts least recently used entries until the bodies total at most this. */
  maxBytes?: number;
  /** Removes expired entries (TTL). Always done along with the other criteria. */
  expired?: boolean;
  /** Removes corrupt entries. */
  corrupt?: boolean;
  /** Removes everything. */
  all?: boolean;
}

export interface PurgeReport {
  removed: number;
  bytesFreed: number;
  entries: number;
  bytes: number;
}

const COUNTER_NAMES: (keyof CacheCounters)[] = [
  "hits",
  "misses",
  "corrupt",
  "expired",
  "evictions",
  "writes",
  "purged",
];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS manifest (
  key TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  stage TEXT,
  model TEXT,
  sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  accessed_at INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS manifest_lru ON manifest(accessed_at);
CREATE TABLE IF NOT EXISTS bodies (key TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

interface Statements {
  get: StatementSync;
  touch: StatementSync;
  putManifest: StatementSync;
  putBody: StatementSync;
  delManifest: StatementSync;
  delBody: StatementSync;
  lru: StatementSync;
  size: StatementSync;
  addCounter: StatementSync;
}

export class ResponseCache {
  readonly path: string;
  readonly mode: CacheMode;
  readonly maxBytes: number | undefined;
  readonly #ttl: { default?: number; stages?: Record<string, number> };
  readonly #now: () => number;
  readonly #db: DatabaseSync | undefined;
  readonly #stmts: Statements | undefined;
  readonly #pending: CacheCounters = {
    hits: 0,
    misses: 0,
    corrupt: 0,
    expired: 0,
    evictions: 0,
    writes: 0,
    purged: 0,
  };
  readonly #queued = new Map<string, { value: JsonValue; body: Buffer; meta: CacheEntryMeta; at: number }>();
  readonly #touched = new Map<string, number>();
  #bytes = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushSoon: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  /** Queued writes that failed (e.g. the file stayed locked); they are dropped. */
  writeErrors = 0;

  constructor(options: CacheOptions) {
    this.path = options.path;
    this.mode = options.mode ?? "read-write";
    this.maxBytes = options.maxBytes;
    this.#ttl = options.ttlMs ?? {};
    this.#now = options.now ?? Date.now;
    if (this.mode === "off") return;
    if (this.mode === "read-only") {
      try {
        this.#db = new DatabaseSync(this.path, { readOnly: true });
      } catch {
        // No cache file yet: a read-only cache of nothing.
        return;
      }
      this.#db.exec("PRAGMA busy_timeout = 5000");
    } else {
      mkdirSync(dirname(this.path), { recursive: true });
      this.#db = new DatabaseSync(this.path);
      this.#db.exec("PRAGMA busy_timeout = 5000");
      this.#db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      this.#db.exec("PRAGMA journal_mode = WAL");
      // The cache is derived data: losing the last writes on power loss is harmless.
      this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#db.exec(SCHEMA);
    }
    const db = this.#db;
    try {
      this.#stmts = {
        get: db.prepare(
          "SELECT m.sha256, m.created_at, m.expires_at, b.body FROM manifest m LEFT JOIN bodies b ON b.key = m.key WHERE m.key = ?",
        ),
        touch: db.prepare("UPDATE manifest SET accessed_at = ? WHERE key = ?"),
        putManifest: db.prepare(
          "INSERT OR REPLACE INTO manifest (key, kind, stage, model, sha256, bytes, created_at, accessed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        putBody: db.prepare("INSERT OR REPLACE INTO bodies (key, body) VALUES (?, ?)"),
        delManifest: db.prepare("DELETE FROM manifest WHERE key = ?"),
        delBody: db.prepare("DELETE FROM bodies WHERE key = ?"),
        lru: db.prepare("SELECT key, bytes FROM manifest ORDER BY accessed_at ASC, key ASC LIMIT ?"),
        size: db.prepare("SELECT bytes FROM manifest WHERE key = ?"),
        addCounter: db.prepare(
          "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
        ),
      };
    } catch (error) {
      // A read-only file that is not a ballast cache (no tables): nothing to read from it.
      if (this.mode === "read-only") {
        db.close();
        this.#db = undefined;
        return;
      }
      throw error;
    }
    this.#bytes = Number(
      (db.prepare("SELECT COALESCE(SUM(bytes), 0) AS n FROM manifest").get() as { n: number }).n,
    );
  }

  get writable(): boolean {
    return this.mode === "read-write" && this.#db !== undefined && !this.#closed;
  }

  /** The TTL that applies to entries of `stage`, in ms. */
  ttlFor(stage: string | undefined): number | undefined {
    return (stage !== undefined ? this.#ttl.stages?.[stage] : undefined) ?? this.#ttl.default;
  }

  /** Reads and verifies an entry; undefined on a miss (absent, expired or corrupt). */
  get(key: string): CacheHit | undefined {
    const stmts = this.#stmts;
    if (stmts === undefined || this.#closed) return undefined;
    const now = this.#now();
    const queued = this.#queued.get(key);
    if (queued !== undefined) {
      const ttl = this.ttlFor(queued.meta.stage);
      if (ttl !== undefined && queued.at + ttl <= now) {
        this.#queued.delete(key);
        this.#count("expired");
        return this.#miss();
      }
      this.#count("hits");
      return { value: queued.value, createdAt: queued.at };
    }
    const row = stmts.get.get(key) as
      | { sha256: string; created_at: number; expires_at: number | null; body: Uint8Array | string | null }
      | undefined;
    if (row === undefined) return this.#miss();
    if (row.expires_at !== null && row.expires_at <= now) {
      this.#count("expired");
      if (this.writable) this.#delete(key);
      return this.#miss();
    }
    const body = row.body;
    let value: JsonValue | undefined;
    if (body !== null && sha256Hex(body) === row.sha256) {
      try {
        value = JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8")) as JsonValue;
      } catch {
        value = undefined;
      }
    }
    if (value === undefined) {
      this.#count("corrupt");
      if (this.writable) this.#delete(key);
      return this.#miss();
    }
    this.#count("hits");
    if (this.writable) this.#touched.set(key, now);
    return { value, createdAt: Number(row.created_at) };
  }

  /** Stores a successful result (written on the next turn of the event loop). Read-write only. */
  set(key: string, value: JsonValue, meta: CacheEntryMeta): void {
    if (!this.writable) return;
    this.#queued.set(key, { value, body: Buffer.from(JSON.stringify(value), "utf8"), meta, at: this.#now() });
    this.#flushSoon ??= setImmediate(() => {
      this.#flushSoon = undefined;
      this.flush();
    });
  }

  stats(): CacheStats {
    this.flush();
    const persisted = this.#readCounters();
    const counters = {} as CacheCounters;
    for (const name of COUNTER_NAMES) counters[name] = persisted[name] + this.#pending[name];
    const byKind: CacheStats["byKind"] = {};
    const byStage: CacheStats["byStage"] = {};
    let entries = 0;
    let bytes = 0;
    let oldest: number | null = null;
    let newest: number | null = null;
    if (this.#db !== undefined && this.#stmts !== undefined) {
      const rows = this.#db
        .prepare(
          "SELECT kind, COALESCE(stage, '') AS stage, COUNT(*) AS n, SUM(bytes) AS b, MIN(created_at) AS lo, MAX(created_at) AS hi FROM manifest GROUP BY kind, stage",
        )
        .all() as { kind: string; stage: string; n: number; b: number; lo: number; hi: number }[];
      for (const row of rows) {
        const n = Number(row.n);
        const b = Number(row.b);
        entries += n;
        bytes += b;
        addSize(byKind, row.kind, n, b);
        addSize(byStage, row.stage === "" ? "(none)" : row.stage, n, b);
        oldest = oldest === null ? Number(row.lo) : Math.min(oldest, Number(row.lo));
        newest = newest === null ? Number(row.hi) : Math.max(newest, Number(row.hi));
      }
    }
    return {
      path: this.path,
      mode: this.mode,
      ...counters,
      entries,
      bytes,
      maxBytes: this.maxBytes ?? null,
      byKind,
      byStage,
      oldestAt: oldest === null ? null : new Date(oldest).toISOString(),
      newestAt: newest === null ? null : new Date(newest).toISOString(),
    };
  }

  /** Re-hashes every body against the manifest; with `fix`, removes the corrupt entries. */
  validate(options: { fix?: boolean } = {}): ValidateReport {
    const report: ValidateReport = { checked: 0, ok: 0, corrupt: 0, corruptKeys: [], purged: 0 };
    this.flush();
    const db = this.#db;
    if (db === undefined || this.#stmts === undefined) return report;
    const rows = db
      .prepare(
        "SELECT m.key, m.sha256, b.body FROM manifest m LEFT JOIN bodies b ON b.key = m.key ORDER BY m.key",
      )
      .iterate() as Iterable<{ key: string; sha256: string; body: Uint8Array | string | null }>;
    for (const row of rows) {
      report.checked += 1;
      if (isIntact(row.body, row.sha256)) report.ok += 1;
      else {
        report.corrupt += 1;
        report.corruptKeys.push(row.key);
      }
    }
    // Bodies without a manifest entry cannot be verified: they are orphans, not entries.
    if (options.fix && report.corrupt > 0) {
      this.#requireWritable("validate --fix");
      this.#transaction(() => {
        for (const key of report.corruptKeys) this.#delete(key);
      });
      report.purged = report.corrupt;
      this.#pending.purged += report.corrupt;
      this.#pending.corrupt += report.corrupt;
      this.#flushCounters();
    }
    return report;
  }

  /** Removes entries by age, size cap, expiry, corruption or all; reports what it removed. */
  purge(options: PurgeOptions): PurgeReport {
    this.#requireWritable("purge");
    this.flush();
    const db = this.#db as DatabaseSync;
    const before = this.#bytes;
    const beforeEntries = this.#entryCount();
    if (options.all) {
      this.#transaction(() => {
        db.exec("DELETE FROM manifest");
        db.exec("DELETE FROM bodies");
      });
      this.#bytes = 0;
    } else {
      const keys = new Set<string>();
      const now = this.#now();
      for (const row of db
        .prepare("SELECT key FROM manifest WHERE expires_at IS NOT NULL AND expires_at <= ?")
        .all(now))
        keys.add((row as { key: string }).key);
      if (options.olderThanMs !== undefined) {
        for (const row of db
          .prepare("SELECT key FROM manifest WHERE created_at < ?")
          .all(now - options.olderThanMs))
          keys.add((row as { key: string }).key);
      }
      if (options.corrupt) for (const key of this.validate().corruptKeys) keys.add(key);
      this.#transaction(() => {
        for (const key of keys) this.#delete(key);
      });
      if (options.maxBytes !== undefined) this.#evictTo(options.maxBytes, null);
    }
    const removed = beforeEntries - this.#entryCount();
    this.#pending.purged += removed;
    this.#flushCounters();
    db.exec("PRAGMA incremental_vacuum");
    return { removed, bytesFreed: before - this.#bytes, entries: this.#entryCount(), bytes: this.#bytes };
  }

  /** Writes queued entries, access times and counters now (before another process reads them). */
  flush(): void {
    if (!this.writable) return;
    if (this.#flushSoon !== undefined) {
      clearImmediate(this.#flushSoon);
      this.#flushSoon = undefined;
    }
    if (
      this.#queued.size === 0 &&
      this.#touched.size === 0 &&
      !COUNTER_NAMES.some((n) => this.#pending[n] !== 0)
    )
      return;
    const stmts = this.#stmts as Statements;
    const entries = [...this.#queued];
    const touched = [...this.#touched];
    this.#queued.clear();
    this.#touched.clear();
    try {
      this.#transaction(() => {
        for (const [key, { body, meta, at }] of entries) {
          const old = stmts.size.get(key) as { bytes: number } | undefined;
          const ttl = this.ttlFor(meta.stage);
          stmts.putManifest.run(
            key,
            meta.kind,
            meta.stage ?? null,
            meta.model ?? null,
            sha256Hex(body),
            body.length,
            at,
            at,
            ttl === undefined ? null : at + ttl,
          );
          stmts.putBody.run(key, body);
          this.#bytes += body.length - (old ? Number(old.bytes) : 0);
          this.#pending.writes += 1;
        }
        for (const [key, at] of touched) stmts.touch.run(at, key);
        this.#flushCounters();
      });
    } catch {
      // The file stayed locked past busy_timeout, or the disk is full: a cache may lose writes.
      this.writeErrors += entries.length;
      return;
    }
    if (this.maxBytes !== undefined && this.#bytes > this.maxBytes) {
      this.#evictTo(this.maxBytes, "evictions");
      this.#flushCounters();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#closed = true;
    this.#db?.close();
  }

  #miss(): undefined {
    this.#count("misses");
    return undefined;
  }

  #count(name: keyof CacheCounters): void {
    this.#pending[name] += 1;
    if (this.#flushTimer === undefined && this.writable) {
      // Counters and access times are batched: a write per read would double the cost of a hit.
      this.#flushTimer = setTimeout(() => {
        this.#flushTimer = undefined;
        this.flush();
      }, 250);
      this.#flushTimer.unref();
    }
  }

  #flushCounters(): void {
    const stmts = this.#stmts;
    if (stmts === undefined || !this.writable) return;
    for (const name of COUNTER_NAMES) {
      const value = this.#pending[name];
      if (value !== 0) {
        stmts.addCounter.run(name, value);
        this.#pending[name] = 0;
      }
    }
  }

  #readCounters(): CacheCounters {
    const out: CacheCounters = {
      hits: 0,
      misses: 0,
      corrupt: 0,
      expired: 0,
      evictions: 0,
      writes: 0,
      purged: 0,
    };
    if (this.#db === undefined || this.#stmts === undefined) return out;
    for (const row of this.#db.prepare("SELECT name, value FROM counters").all() as {
      name: string;
      value: number;
    }[]) {
      if ((COUNTER_NAMES as string[]).includes(row.name))
        out[row.name as keyof CacheCounters] = Number(row.value);
    }
    return out;
  }

  #entryCount(): number {
    if (this.#db === undefined || this.#stmts === undefined) return 0;
    return Number((this.#db.prepare("SELECT COUNT(*) AS n FROM manifest").get() as { n: number }).n);
  }

  #delete(key: string): void {
    this.#touched.delete(key);
    const stmts = this.#stmts as Statements;
    const row = stmts.size.get(key) as { bytes: number } | undefined;
    stmts.delManifest.run(key);
    stmts.delBody.run(key);
    if (row) this.#bytes -= Number(row.bytes);
  }

  #evictTo(maxBytes: number, counter: "evictions" | null): void {
    const stmts = this.#stmts as Statements;
    this.#transaction(() => {
      while (this.#bytes > maxBytes) {
        const batch = stmts.lru.all(64) as { key: string; bytes: number }[];
        if (batch.length === 0) break;
        for (const row of batch) {
          if (this.#bytes <= maxBytes) break;
          this.#delete(row.key);
          if (counter) this.#pending[counter] += 1;
        }
      }
    });
  }

  #transaction(fn: () => void): void {
    const db = this.#db as DatabaseSync;
    db.exec("BEGIN IMMEDIATE");
    try {
      fn();
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }

  #requireWritable(what: string): void {
    if (!this.writable) {
      throw new ValidationError(
        "cache_read_only",
        `Cannot ${what}: the model cache at ${this.path} is ${this.#closed ? "closed" : `in ${this.mode} mode`}. Open it in read-write mode.`,
      );
    }
  }
}

function addSize(
  into: Record<string, { entries: number; bytes: number }>,
  key: string,
  n: number,
  b: number,
): void {
  const slot = into[key] ?? { entries: 0, bytes: 0 };
  slot.entries += n;
  slot.bytes += b;
  into[key] = slot;
}

function isIntact(body: Uint8Array | string | null, sha256: string): boolean {
  if (body === null || sha256Hex(body) !== sha256) return false;
  try {
    JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
    return true;
  } catch {
    return false;
  }
}
