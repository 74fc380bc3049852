import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ValidationError } from "../errors.ts";
import { redact } from "../guard/redact.ts";
import { detectSandboxCapabilities, findExecutable, type SandboxCapabilities } from "./capabilities.ts";
import { networkDenyFilter } from "./seccomp.ts";
import { OutputCapture } from "./truncate.ts";
import {
  type EnforcedRecord,
  type Enforcement,
  type ExecOptions,
  type ExecResult,
  type ExecStatus,
  TIMEOUT_EXIT_CODE,
} from "./types.ts";

/** Variables copied from this process's environment by default (plus `envAllowlist`). */
export const DEFAULT_ENV_ALLOWLIST: readonly string[] = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "LC_MESSAGES",
  "TZ",
  "TERM",
  "SOURCE_DATE_EPOCH",
  // Coverage tools must see their configuration in children (seed 002 AR-1, AR-6).
  "COVERAGE_PROCESS_START",
  "COVERAGE_RCFILE",
  "COVERAGE_FILE",
  "NODE_V8_COVERAGE",
];

const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_GRACE_MS = 2_000;
const DEFAULT_MAX_OUTPUT = 1024 * 1024;
// After the command exits, how long its pipes may stay open (held by a descendant that
// escaped) before we stop reading.
const DRAIN_MS = 200;
const OOM_TEXT =
  /Cannot allocate memory|out of memory|MemoryError|bad_alloc|ENOMEM|memory allocation|allocation failed/i;
const NETWORK_TEXT =
  /Network is unreachable|Could not resolve host|Temporary failure in name resolution|ENETUNREACH|EAI_AGAIN/;

function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

function signalName(signo: number): string | null {
  for (const [name, value] of Object.entries(osConstants.signals)) if (value === signo) return name;
  return null;
}

function enforcement(
  requested: boolean,
  mechanism: string | null,
  reason: string | null = null,
): Enforcement {
  return { requested, applied: requested && mechanism !== null && reason === null, mechanism, reason };
}

function positiveInt(name: string, value: number | undefined, min = 1): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ValidationError(
      "exec_option_invalid",
      `exec: ${name} must be an integer >= ${min}, got ${String(value)}.`,
    );
  }
}

export function validateExec(command: string, args: readonly string[], options: ExecOptions): void {
  if (typeof command !== "string" || command === "" || command.includes("\u0000")) {
    throw new ValidationError(
      "exec_command_invalid",
      "exec: the command must be a non-empty string without NUL bytes.",
    );
  }
  if (!Array.isArray(args) || args.some((a) => typeof a !== "string" || a.includes("\u0000"))) {
    throw new ValidationError(
      "exec_args_invalid",
      "exec: args must be strings without NUL bytes (no shell quoting needed).",
    );
  }
  positiveInt("timeoutMs", options.timeoutMs);
  positiveInt("killGraceMs", options.killGraceMs, 0);
  positiveInt("maxOutputBytes", options.maxOutputBytes);
  positiveInt("memBytes", options.memBytes, 1024 * 1024);
  positiveInt("cpuSeconds", options.cpuSeconds);
  if (options.network !== undefined && options.network !== "allow" && options.network !== "deny") {
    throw new ValidationError(
      "exec_option_invalid",
      `exec: network must be "allow" or "deny", got ${String(options.network)}.`,
    );
  }
  if (options.traceId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(options.traceId)) {
    throw new ValidationError(
      "exec_option_invalid",
      "exec: traceId must be 1-64 characters of A-Z a-z 0-9 _ -.",
    );
  }
}

interface Plan {
  enforced: EnforcedRecord;
  /** Reasons of requested limits that cannot be enforced here. */
  missing: string[];
  useBwrap: boolean;
  useSeccomp: boolean;
  rlimit: "prlimit" | "ulimit" | null;
}

function plan(options: ExecOptions, caps: SandboxCapabilities): Plan {
  const missing: string[] = [];
  const mode = options.network ?? "allow";
  const deny = mode === "deny";
  const bwrap = caps.bwrap !== null;
  const pidNamespace = bwrap
    ? enforcement(true, "bwrap_pid_namespace")
    : enforcement(true, null, caps.bwrapReason ?? "bwrap_unavailable");
  const network = deny
    ? bwrap
      ? enforcement(true, "bwrap_unshare_net")
      : enforcement(true, null, "network_isolation_unavailable")
    : enforcement(false, null);
  if (deny && !bwrap) missing.push("network_isolation_unavailable");
  const useSeccomp = deny && bwrap && caps.seccomp;
  const seccomp = !deny
    ? enforcement(false, null)
    : useSeccomp
      ? enforcement(true, "seccomp_trap_inet_socket")
      : enforcement(true, null, bwrap ? "seccomp_arch_unsupported" : "bwrap_unavailable");
  const wantsRlimit = options.memBytes !== undefined || options.cpuSeconds !== undefined;
  const rlimit = !wantsRlimit
    ? null
    : caps.prlimit !== null
      ? "prlimit"
      : caps.shell !== null
        ? "ulimit"
        : null;
  if (wantsRlimit && rlimit === null) missing.push("rlimit_unavailable");
  const mechanism = (kind: string) => (rlimit === null ? null : `${kind}_${rlimit}`);
  const memory = {
    ...(options.memBytes === undefined
      ? enforcement(false, null)
      : enforcement(true, mechanism("rlimit_as"), rlimit === null ? "rlimit_unavailable" : null)),
    bytes: options.memBytes ?? null,
  };
  const cpu = {
    ...(options.cpuSeconds === undefined
      ? enforcement(false, null)
      : enforcement(true, mechanism("rlimit_cpu"), rlimit === null ? "rlimit_unavailable" : null)),
    seconds: options.cpuSeconds ?? null,
  };
  const enabledEnv = process.env["BALLAST_SANDBOX_CGROUPS_V2"] === "1";
  // cgroups are reported, not used: rlimits and the PID namespace give the guarantees
  // without needing a delegated cgroup subtree.
  const cgroupsV2 = {
    enabledEnv,
    detected: caps.cgroupV2.detected,
    applied: false,
    reason: !enabledEnv
      ? "disabled"
      : caps.cgroupV2.detected
        ? "attach_unsupported_rlimits_used"
        : caps.cgroupV2.reason,
  };
  return {
    enforced: {
      processGroup: enforcement(true, "setsid_process_group"),
      pidNamespace,
      network: { ...network, mode },
      seccomp,
      memory,
      cpu,
      cgroupsV2,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxOutputBytes: options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT,
      allowPartial: options.allowPartial === true,
    },
    missing,
    useBwrap: bwrap,
    useSeccomp,
    rlimit,
  };
}

/** The `enforced` record `options` would get here, without running anything. */
export function enforcementFor(options: ExecOptions): EnforcedRecord {
  return plan(options, options.capabilities ?? detectSandboxCapabilities()).enforced;
}

function buildEnv(options: ExecOptions, tempDir: string, traceId: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...DEFAULT_ENV_ALLOWLIST, ...(options.envAllowlist ?? [])]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env["PATH"] ??= SYSTEM_PATH;
  Object.assign(env, options.env ?? {});
  env["TMPDIR"] = tempDir;
  env["TMP"] = tempDir;
  env["TEMP"] = tempDir;
  // Every descendant inherits this, which lets the fallback (no PID namespace) find them.
  env["BALLAST_TRACE_ID"] = traceId;
  return env;
}

function buildArgv(
  resolved: string,
  args: readonly string[],
  cwd: string,
  options: ExecOptions,
  p: Plan,
  bwrap: string | null,
  shell: string | null,
  prlimit: string | null,
): string[] {
  let argv = [resolved, ...args];
  if (p.rlimit === "prlimit") {
    const limits = [
      ...(options.memBytes === undefined ? [] : [`--as=${options.memBytes}`]),
      // Soft limit sends SIGXCPU, the hard one a second later SIGKILL.
      ...(options.cpuSeconds === undefined ? [] : [`--cpu=${options.cpuSeconds}:${options.cpuSeconds + 1}`]),
    ];
    argv = [prlimit!, ...limits, "--", ...argv];
  } else if (p.rlimit === "ulimit") {
    const script = [
      ...(options.memBytes === undefined ? [] : [`ulimit -v ${Math.floor(options.memBytes / 1024)}`]),
      ...(options.cpuSeconds === undefined ? [] : [`ulimit -t ${options.cpuSeconds}`]),
      'exec "$@"',
    ].join(" && ");
    argv = [shell!, "-c", script, "ballast-sandbox", ...argv];
  }
  if (p.useBwrap) {
    argv = [
      bwrap!,
      "--dev-bind",
      "/",
      "/",
      "--proc",
      "/proc",
      "--unshare-pid",
      "--die-with-parent",
      ...(p.enforced.network.applied ? ["--unshare-net"] : []),
      ...(p.useSeccomp ? ["--seccomp", "3"] : []),
      "--chdir",
      cwd,
      "--",
      ...argv,
    ];
  }
  return argv;
}

/** Kills every process carrying our trace id in its environment (Linux, fallback mode). */
function killByTraceId(traceId: string): void {
  const needle = Buffer.from(`BALLAST_TRACE_ID=${traceId}\u0000`);
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`).includes(needle)) process.kill(Number(entry), "SIGKILL");
    } catch {
      // gone already, or not ours to read
    }
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

export function internalError(
  reason: string,
  traceId: string,
  enforced: EnforcedRecord,
  durationMs: number,
  detail = "",
): ExecResult {
  return {
    status: "INTERNAL_ERROR",
    exitCode: 1,
    signal: null,
    reason,
    stdout: "",
    stderr: detail === "" ? "" : redact(detail),
    stdoutBytes: 0,
    stderrBytes: 0,
    truncated: false,
    durationMs,
    traceId,
    enforced,
    policy: null,
  };
}

/** Runs one command under limits; see `exec` for the contract. Never throws for a command's failure. */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult> {
  validateExec(command, args, options);
  const clock = options.clock ?? (() => performance.now());
  const start = clock();
  const elapsed = () => Math.round((clock() - start) * 1000) / 1000;
  const traceId = options.traceId ?? newTraceId();
  const caps = options.capabilities ?? detectSandboxCapabilities();
  const p = plan(options, caps);
  if (p.missing.length > 0 && options.allowPartial !== true) {
    return internalError(p.missing[0]!, traceId, p.enforced, elapsed());
  }
  const cwd = resolve(options.cwd ?? process.cwd());
  try {
    if (!statSync(cwd).isDirectory())
      return internalError("cwd_not_directory", traceId, p.enforced, elapsed());
  } catch {
    return internalError("cwd_not_found", traceId, p.enforced, elapsed());
  }
  const tempDir = mkdtempSync(join(tmpdir(), `ballast-${traceId}-`));
  try {
    const env = buildEnv(options, tempDir, traceId);
    const resolved = findExecutable(command, env["PATH"]);
    if (resolved === null)
      return internalError(
        "command_not_found",
        traceId,
        p.enforced,
        elapsed(),
        `${command}: not found on PATH`,
      );
    let seccompFd: number | undefined;
    if (p.useSeccomp) {
      const file = join(tempDir, ".seccomp.bpf");
      writeFileSync(file, networkDenyFilter()!);
      seccompFd = openSync(file, "r");
    }
    const argv = buildArgv(resolved, args, cwd, options, p, caps.bwrap, caps.shell, caps.prlimit);
    try {
      return await supervise(argv, cwd, env, options, p, traceId, elapsed, seccompFd);
    } finally {
      if (seccompFd !== undefined) closeSync(seccompFd);
    }
  } finally {
    rmSync(tempDir, { recursive: true, force: true });
  }
}

function supervise(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
  options: ExecOptions,
  p: Plan,
  traceId: string,
  elapsed: () => number,
  seccompFd: number | undefined,
): Promise<ExecResult> {
  const maxBytes = p.enforced.maxOutputBytes;
  const timeoutMs = p.enforced.timeoutMs;
  const graceMs = options.killGraceMs ?? DEFAULT_GRACE_MS;
  const stdout = new OutputCapture(maxBytes);
  const stderr = new OutputCapture(maxBytes);

  return new Promise<ExecResult>((resolvePromise) => {
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd,
        env,
        detached: true,
        stdio: [
          options.stdin === undefined ? "ignore" : "pipe",
          "pipe",
          "pipe",
          ...(seccompFd === undefined ? [] : [seccompFd]),
        ],
      });
    } catch (error) {
      resolvePromise(
        internalError("spawn_failed", traceId, p.enforced, elapsed(), String((error as Error).message)),
      );
      return;
    }
    let killedBy: "timeout" | "aborted" | null = null;
    let graceTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let openStreams = 2;

    const stop = (why: "timeout" | "aborted") => {
      if (killedBy !== null || exit !== undefined) return;
      killedBy = why;
      killGroup(child, "SIGTERM");
      graceTimer = setTimeout(() => {
        killGroup(child, "SIGKILL");
        if (!p.useBwrap) killByTraceId(traceId);
      }, graceMs);
    };
    const timer = setTimeout(() => stop("timeout"), timeoutMs);
    const onAbort = () => stop("aborted");
    if (options.signal?.aborted) queueMicrotask(onAbort);
    else options.signal?.addEventListener("abort", onAbort, { once: true });

    const finish = (spawnError?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      clearTimeout(drainTimer);
      options.signal?.removeEventListener("abort", onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      if (spawnError !== undefined) {
        resolvePromise(internalError("spawn_failed", traceId, p.enforced, elapsed(), spawnError.message));
        return;
      }
      resolvePromise(classify(exit!, killedBy, stdout, stderr, options, p, traceId, elapsed()));
    };
    const maybeFinish = () => {
      if (exit !== undefined && openStreams === 0) finish();
    };

    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("close", () => {
        openStreams--;
        maybeFinish();
      });
    }
    if (child.stdin) {
      child.stdin.on("error", () => {
        // the command did not read its input; that is its business
      });
      child.stdin.end(options.stdin);
    }
    child.on("error", (error) => {
      if (exit === undefined) finish(error);
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      clearTimeout(timer);
      // Leftovers in our process group (or, without a PID namespace, anything that still
      // carries our trace id) go now; with bubblewrap the namespace is already gone.
      if (!p.useBwrap) {
        killGroup(child, "SIGKILL");
        killByTraceId(traceId);
      }
      drainTimer = setTimeout(() => finish(), DRAIN_MS);
      maybeFinish();
    });
  });
}

function classify(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  killedBy: "timeout" | "aborted" | null,
  stdout: OutputCapture,
  stderr: OutputCapture,
  options: ExecOptions,
  p: Plan,
  traceId: string,
  durationMs: number,
): ExecResult {
  let code = exit.code;
  let signal: string | null = exit.signal;
  // bubblewrap reports a signal death of the command as 128 + signo.
  if (signal === null && p.useBwrap && code !== null && code > 128 && code <= 128 + 64) {
    signal = signalName(code - 128);
    if (signal !== null) code = null;
  }
  const stderrText = stderr.text();
  let status: ExecStatus;
  let reason: string | null = null;
  const timedOut = killedBy === "timeout" || (killedBy === null && durationMs >= p.enforced.timeoutMs);
  if (timedOut) {
    status = "TIMEOUT";
    reason = killedBy === "timeout" ? "timeout" : "timeout_watchdog";
    code = TIMEOUT_EXIT_CODE;
  } else if (killedBy === "aborted") {
    status = "KILLED";
    reason = "aborted";
  } else if (signal === "SIGSYS" && p.useSeccomp) {
    status = "SANDBOX_DENIED";
    reason = "network_denied";
  } else if (
    p.enforced.memory.applied &&
    ((signal !== null && ["SIGSEGV", "SIGABRT", "SIGBUS", "SIGKILL", "SIGTRAP"].includes(signal)) ||
      (code !== 0 && OOM_TEXT.test(stderrText)))
  ) {
    status = "MEM_LIMIT";
    reason = "memory_limit";
  } else if (signal === "SIGXCPU" || (p.enforced.cpu.applied && signal === "SIGKILL")) {
    status = "KILLED";
    reason = "cpu_limit";
  } else if (signal !== null) {
    status = "KILLED";
    reason = `signal:${signal}`;
  } else if (code === 0) {
    status = "OK";
  } else if (p.enforced.network.applied && NETWORK_TEXT.test(stderrText)) {
    status = "SANDBOX_DENIED";
    reason = "network_denied";
  } else {
    status = "NONZERO";
  }
  return {
    status,
    exitCode: code,
    signal,
    reason,
    stdout: stdout.text(),
    stderr: options.redactStderr === false ? stderrText : redact(stderrText),
    stdoutBytes: stdout.totalBytes,
    stderrBytes: stderr.totalBytes,
    truncated: stdout.truncated || stderr.truncated,
    durationMs,
    traceId,
    enforced: p.enforced,
    policy: null,
  };
}

/** The one-line header for logs: `[sandbox] traceId=… duration_ms=… status=…`. */
export function formatExecHeader(
  result: Pick<ExecResult, "traceId" | "durationMs" | "status" | "exitCode">,
): string {
  return `[sandbox] traceId=${result.traceId} duration_ms=${Math.round(result.durationMs)} status=${result.status} rc=${result.exitCode ?? "none"}`;
}
