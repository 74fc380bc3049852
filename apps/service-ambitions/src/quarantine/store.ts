import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "ballast";
import { writeFileAtomic } from "../output/write.ts";

/**
 * Records that still failed after their retries and re-asks, one JSON file per service in
 * the quarantine folder, with what is needed to triage them: the stage, the error, the
 * validation problems of each ask, provider request ids and the run. A quarantined service
 * is skipped by later runs until `quarantine rm` releases it for reprocessing: the record
 * moves to `released/`, and the next run asks the models afresh for that service (its
 * calls bypass the response cache, which holds the answers that failed) and then clears
 * the release.
 */

export interface QuarantineRecord {
  service_id: string;
  stage: string;
  plateau?: number;
  /** `MappingError` or `ProcessingError`. */
  error: string;
  code: string;
  message: string;
  problems: string[];
  request_ids: string[];
  asks?: number;
  run_id: string;
  quarantined_at: string;
  service: unknown;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export class QuarantineStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  #path(serviceId: string): string {
    if (!SAFE_NAME.test(serviceId)) {
      throw new ValidationError("invalid_service_id", `"${serviceId}" is not a service id.`);
    }
    return join(this.dir, `${serviceId}.json`);
  }

  put(record: QuarantineRecord): string {
    const path = this.#path(record.service_id);
    writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
    return path;
  }

  has(serviceId: string): boolean {
    return existsSync(this.#path(serviceId));
  }

  /** Every quarantined record, by service id. */
  list(): QuarantineRecord[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(".json"))
      .sort()
      .map((name) => JSON.parse(readFileSync(join(this.dir, name), "utf8")) as QuarantineRecord);
  }

  get(serviceId: string): QuarantineRecord {
    const path = this.#path(serviceId);
    if (!existsSync(path)) {
      throw new ValidationError(
        "not_quarantined",
        `Service ${serviceId} is not in quarantine (${this.dir}); \`quarantine ls\` lists what is.`,
      );
    }
    return JSON.parse(readFileSync(path, "utf8")) as QuarantineRecord;
  }

  /** Releases a record: the next run processes the service again, without the cache. */
  remove(serviceId: string): QuarantineRecord {
    const record = this.get(serviceId);
    mkdirSync(join(this.dir, "released"), { recursive: true });
    renameSync(this.#path(serviceId), join(this.dir, "released", `${serviceId}.json`));
    return record;
  }

  /** Services released and not yet reprocessed. */
  released(): string[] {
    const dir = join(this.dir, "released");
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((name) => name.endsWith(".json"))
      .map((name) => name.slice(0, -5))
      .sort();
  }

  /** A released service was reprocessed: forget its release. */
  clearRelease(serviceId: string): void {
    this.#path(serviceId); // validates the id
    rmSync(join(this.dir, "released", `${serviceId}.json`), { force: true });
  }
}
