import type { PolicyDecision, PolicyEngine, PolicySubject } from "../guard/policy-engine.ts";
import type { SandboxCapabilities } from "./capabilities.ts";

export type ExecStatus =
  | "OK"
  | "NONZERO"
  | "TIMEOUT"
  | "MEM_LIMIT"
  | "KILLED"
  | "SANDBOX_DENIED"
  | "INTERNAL_ERROR";

/** Exit code reported for a timeout, as coreutils `timeout` does. */
export const TIMEOUT_EXIT_CODE = 124;

export interface ExecOptions {
  /** Working directory (must exist). Default: the current directory. */
  cwd?: string;
  /** Variables set for the command, on top of the allowlisted ones. */
  env?: Readonly<Record<string, string>>;
  /** Extra names copied from this process's environment (see `DEFAULT_ENV_ALLOWLIST`). */
  envAllowlist?: readonly string[];
  /** Wall-clock limit. Default 60 000 ms. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL on timeout or abort. Default 2 000 ms. */
  killGraceMs?: number;
  /** Cap per stream (stdout, stderr). Default 1 MiB. */
  maxOutputBytes?: number;
  /** Address-space limit (RLIMIT_AS). */
  memBytes?: number;
  /** CPU-time limit (RLIMIT_CPU). */
  cpuSeconds?: number;
  /** `deny` runs the command in an empty network namespace. Default `allow`. */
  network?: "allow" | "deny";
  /**
   * When a requested limit cannot be enforced here: `false` (default) fails with
   * `INTERNAL_ERROR` and a stable reason; `true` runs anyway and says so in `enforced`.
   */
  allowPartial?: boolean;
  stdin?: string | Uint8Array;
  /** Correlates logs, temp dirs and audit records. Default: 32 random hex characters. */
  traceId?: string;
  /** Aborting kills the command (status `KILLED`, reason `aborted`). */
  signal?: AbortSignal;
  /** Pass stderr through the redactor (default true); stdout is returned as produced. */
  redactStderr?: boolean;
  /** Inside a run: the policy engine asked first. Default: `defaultPolicyEngine()`. */
  policy?: PolicyEngine;
  /** Inside a run: who asks. Default `{ id: "workflow", tenant, roles: ["workflow"] }`. */
  subject?: PolicySubject;
  /** Inside a run: the tenant the command runs for. Default `default`. */
  tenant?: string;
  /** Inside a run, journal the command as `command.ran` and serve it on replay (default true). */
  journal?: boolean;
  /** Overrides capability detection (diagnostics and tests). */
  capabilities?: SandboxCapabilities;
  /** Monotonic milliseconds (default `performance.now`), replaceable in tests. */
  clock?: () => number;
}

export interface Enforcement {
  requested: boolean;
  applied: boolean;
  mechanism: string | null;
  /** Why it was not applied (stable, low-cardinality). */
  reason: string | null;
}

export interface EnforcedRecord {
  processGroup: Enforcement;
  pidNamespace: Enforcement;
  network: Enforcement & { mode: "allow" | "deny" };
  seccomp: Enforcement;
  memory: Enforcement & { bytes: number | null };
  cpu: Enforcement & { seconds: number | null };
  cgroupsV2: { enabledEnv: boolean; detected: boolean; applied: boolean; reason: string };
  timeoutMs: number;
  maxOutputBytes: number;
  allowPartial: boolean;
}

export interface ExecResult {
  status: ExecStatus;
  /** The command's exit code; 124 on timeout; null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it (`SIGKILL`, ...), or null. */
  signal: string | null;
  /** Stable reason for any status but OK and NONZERO (`timeout`, `memory_limit`, `network_denied`, ...). */
  reason: string | null;
  stdout: string;
  stderr: string;
  /** Bytes the command wrote, before truncation. */
  stdoutBytes: number;
  stderrBytes: number;
  truncated: boolean;
  /** From a monotonic clock. */
  durationMs: number;
  traceId: string;
  enforced: EnforcedRecord;
  /** The policy decision, for commands run inside a run. */
  policy: Pick<PolicyDecision, "decision" | "reasons" | "policyVersion"> | null;
}
