/** `ballast/sandbox`: running commands under limits, journaled inside runs. */
export { detectSandboxCapabilities, type SandboxCapabilities } from "./capabilities.ts";
export { exec } from "./exec.ts";
export { DEFAULT_ENV_ALLOWLIST, enforcementFor, formatExecHeader } from "./run-process.ts";
export { networkDenyFilter } from "./seccomp.ts";
export { decodeTruncated, truncationMarker, utf8Boundary } from "./truncate.ts";
export {
  type EnforcedRecord,
  type Enforcement,
  type ExecOptions,
  type ExecResult,
  type ExecStatus,
  TIMEOUT_EXIT_CODE,
} from "./types.ts";
