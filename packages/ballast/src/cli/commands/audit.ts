import type { Command } from "commander";
import { ValidationError } from "../../errors.ts";
import { AuditLog, parseTtlDays } from "../../guard/audit-log.ts";
import { emit, type GlobalOptions, table } from "../output.ts";

interface AuditOptions extends GlobalOptions {
  archives?: boolean;
  ttlDays?: string;
  kind?: string;
  tenant?: string;
  traceId?: string;
  since?: string;
  limit?: string;
}

/** `ballast audit verify|archive|list`: the security audit log in `<home>/ballast.db`. */
export function registerAuditCommand(program: Command): void {
  const audit = program.command("audit").description("the security audit log (append-only, SHA-256 chained)");

  audit
    .command("verify")
    .description(
      "check every audit record's chain link and every archive against its anchor; exits 1 on any problem",
    )
    .option("--json", "print machine-readable JSON")
    .option("--no-archives", "check only the records still in the database")
    .action((_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<AuditOptions>();
      const log = AuditLog.open({
        ...(options.home === undefined ? {} : { home: options.home }),
        ttlDays: undefined,
        env: {},
      });
      try {
        const report = log.verify({ archives: options.archives !== false });
        emit(options, report, () => {
          const range =
            report.firstSeq === null ? "no records" : `records ${report.firstSeq}-${report.lastSeq}`;
          const head = `${report.ok ? "ok" : "TAMPERED"}: ${report.checked} record(s) checked (${range}), ${report.archivedChecked} archived record(s) in ${report.anchors} archive(s)`;
          return [head, ...report.problems.map((p) => `  record ${p.seq}: ${p.kind}: ${p.message}`)].join(
            "\n",
          );
        });
        if (!report.ok) process.exitCode = 1;
      } finally {
        log.close();
      }
    });

  audit
    .command("archive")
    .description(
      "move records older than the retention period to a JSONL archive (never deletes without archiving)",
    )
    .option("--json", "print machine-readable JSON")
    .option("--ttl-days <days>", "retention in days (default $BALLAST_AUDIT_TTL_DAYS)")
    .action((_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<AuditOptions>();
      const ttlDays = parseTtlDays(options.ttlDays ?? process.env["BALLAST_AUDIT_TTL_DAYS"]);
      if (ttlDays === undefined) {
        throw new ValidationError(
          "audit_ttl_missing",
          "No retention period: pass --ttl-days <days> or set BALLAST_AUDIT_TTL_DAYS.",
        );
      }
      const log = AuditLog.open({ ...(options.home === undefined ? {} : { home: options.home }), env: {} });
      try {
        const result = log.archive({ ttlDays });
        emit(options, result, () =>
          result.archived === 0
            ? `nothing older than ${ttlDays} day(s) to archive`
            : `archived ${result.archived} record(s) (${result.seqFrom}-${result.seqThrough}) to ${result.file}`,
        );
      } finally {
        log.close();
      }
    });

  audit
    .command("list")
    .description("print audit records, oldest first, redacted")
    .option("--json", "print machine-readable JSON")
    .option("--kind <kind>", "only this kind, e.g. security.deny")
    .option("--tenant <tenant>", "only this tenant")
    .option("--trace-id <id>", "only this trace")
    .option("--since <iso>", "only records at or after this time")
    .option("--limit <n>", "at most this many records (default 100)")
    .action((_opts: unknown, command: Command) => {
      const options = command.optsWithGlobals<AuditOptions>();
      const log = AuditLog.open({ ...(options.home === undefined ? {} : { home: options.home }), env: {} });
      try {
        const records = log.list({
          ...(options.kind === undefined ? {} : { kind: options.kind }),
          ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
          ...(options.traceId === undefined ? {} : { traceId: options.traceId }),
          ...(options.since === undefined ? {} : { since: options.since }),
          limit: options.limit === undefined ? 100 : Number(options.limit),
        });
        emit(options, records, () =>
          table(
            ["seq", "ts", "kind", "tenant", "subject", "action", "resource", "reason"],
            records.map((r) => [
              String(r.seq),
              r.ts,
              r.kind,
              r.tenant ?? "",
              r.subject ?? "",
              r.action ?? "",
              r.resource ?? "",
              r.reason ?? "",
            ]),
          ),
        );
      } finally {
        log.close();
      }
    });
}
