import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import { fingerprint, type JsonValue } from "../canonical.ts";
import { currentScope, DivergenceError, type RunScope } from "../flow/scope.ts";
import { defaultPolicyEngine } from "../guard/policy-default.ts";
import { redactValue } from "../guard/redact.ts";
import { enforcementFor, runProcess, validateExec } from "./run-process.ts";
import type { ExecOptions, ExecResult } from "./types.ts";

/**
 * Runs `command` with `args` (no shell) under limits and returns what happened; a command's
 * failure is a status, never an exception (bad options throw `ValidationError`).
 *
 * - Statuses: `OK`, `NONZERO`, `TIMEOUT` (exit code 124), `MEM_LIMIT`, `KILLED`,
 *   `SANDBOX_DENIED` (network use under `network: "deny"`, or the policy said no) and
 *   `INTERNAL_ERROR` (exit code 1, with a stable `reason`, e.g. a requested limit that
 *   cannot be enforced here and `allowPartial` is false).
 * - stdout/stderr are capped per stream at `maxOutputBytes`, cut on a UTF-8 boundary and
 *   marked `[TRUNCATED at N bytes]`; stderr is redacted.
 * - The command runs in its own process group and, with bubblewrap, its own PID namespace:
 *   on timeout the whole tree dies (also `setsid`/double-fork escapees and children that
 *   ignore SIGTERM), and the call returns even if a descendant still holds the pipes.
 * - The environment is built from an allowlist; the temp dir (`$TMPDIR`) is named after
 *   the trace id and removed afterwards, on success and on failure.
 * - Inside a run, the policy is asked first (`command.exec` on `<tenant>:command/<name>`),
 *   the outcome is journaled as `command.ran`, and a replay (or a resume past it) serves the
 *   recorded result and runs nothing.
 *
 * @example
 * const r = await exec("pytest", ["-q"], { cwd: repo, timeoutMs: 120_000, network: "deny", memBytes: 2 ** 31 });
 * if (r.status !== "OK") console.error(formatExecHeader(r), r.stderr);
 */
export async function exec(
  command: string,
  args: readonly string[] = [],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const scope = currentScope();
  if (scope === undefined)
    return options.policy === undefined
      ? runProcess(command, args, options)
      : execWithPolicy(command, args, options);
  return execInRun(scope, command, args, options);
}

function policyRequest(command: string, args: readonly string[], options: ExecOptions, traceId?: string) {
  const tenant = options.tenant ?? "default";
  return {
    subject: options.subject ?? { id: "workflow", tenant, roles: ["workflow"] },
    action: "command.exec",
    resource: `${tenant}:command/${basename(command)}`,
    tenant,
    context: { command: [command, ...args].join(" "), path: options.cwd ?? process.cwd() },
    ...(traceId === undefined ? {} : { traceId }),
    transport: "sandbox",
  };
}

function deniedResult(options: ExecOptions, traceId: string, policy: ExecResult["policy"]): ExecResult {
  return {
    status: "SANDBOX_DENIED",
    exitCode: null,
    signal: null,
    reason: "policy_denied",
    stdout: "",
    stderr: "",
    stdoutBytes: 0,
    stderrBytes: 0,
    truncated: false,
    durationMs: 0,
    traceId,
    enforced: enforcementFor(options),
    policy,
  };
}

async function execWithPolicy(
  command: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult> {
  validateExec(command, args, options);
  const traceId = options.traceId ?? randomBytes(16).toString("hex");
  const engine = options.policy ?? defaultPolicyEngine();
  const d = engine.evaluate(policyRequest(command, args, options, traceId));
  const policy = { decision: d.decision, reasons: d.reasons, policyVersion: d.policyVersion };
  if (!d.allowed) return deniedResult(options, traceId, policy);
  return { ...(await runProcess(command, args, { ...options, traceId })), policy };
}

async function execInRun(
  scope: RunScope,
  command: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult> {
  // Reserve the key before anything can await, so concurrent commands keep stable keys.
  const key = scope.nextEffectKey("command.ran");
  validateExec(command, args, options);
  const requestHash = fingerprint({
    command,
    args,
    cwd: options.cwd ?? null,
    env: options.env ?? {},
    stdin: options.stdin === undefined ? null : Buffer.from(options.stdin).toString("base64"),
    limits: {
      timeoutMs: options.timeoutMs ?? null,
      maxOutputBytes: options.maxOutputBytes ?? null,
      memBytes: options.memBytes ?? null,
      cpuSeconds: options.cpuSeconds ?? null,
      network: options.network ?? "allow",
    },
    tenant: options.tenant ?? "default",
  });
  // In replay mode the scope itself reports a missing record as a divergence.
  const recorded = scope.recordedEffect(key);
  if (recorded !== undefined) {
    const data = recorded.data as { requestHash?: string; result?: ExecResult };
    if (scope.mode === "replay") {
      // The engine checks type and request hash and marks the event as matched.
      await scope.recordEffect(key, "command.ran", { requestHash });
    } else if (data.requestHash !== requestHash) {
      throw new DivergenceError({
        runId: scope.runId,
        key,
        message: `the command differs from the recorded one (${command})`,
        expected: data.requestHash,
        actual: requestHash,
      });
    }
    return data.result as ExecResult;
  }
  if (scope.mode === "replay") {
    throw new DivergenceError({
      runId: scope.runId,
      key,
      message: `no command.ran was recorded for ${command}; a replay runs no commands`,
    });
  }
  const signal =
    options.signal === undefined ? scope.signal : AbortSignal.any([options.signal, scope.signal]);
  const traceId = options.traceId ?? randomBytes(16).toString("hex");
  const runOptions: ExecOptions = { ...options, signal, traceId };
  const engine = options.policy ?? defaultPolicyEngine();
  const d = engine.evaluate(policyRequest(command, args, options, traceId));
  const policy = { decision: d.decision, reasons: d.reasons, policyVersion: d.policyVersion };
  let result: ExecResult;
  if (!d.allowed) {
    result = deniedResult(options, traceId, policy);
  } else {
    const reservation = scope.budget.reserve({ toolCalls: 1 }, "command.exec");
    try {
      result = { ...(await runProcess(command, args, runOptions)), policy };
    } catch (error) {
      reservation.release();
      throw error;
    }
    reservation.commit({ toolCalls: 1 });
  }
  await scope.recordEffect(key, "command.ran", {
    requestHash,
    command,
    args: redactValue([...args]),
    cwd: options.cwd ?? null,
    result: result as unknown as JsonValue,
  });
  return result;
}
