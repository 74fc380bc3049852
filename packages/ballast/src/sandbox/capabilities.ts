import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";

/**
 * What this machine offers the sandbox, probed once per process.
 *
 * - `bwrap` (bubblewrap, Debian package `bubblewrap`, installed by
 *   scripts/install-sandbox-deps.sh): a PID namespace with a reaper as PID 1, so when the
 *   command ends or is killed every descendant dies with it (including `setsid` and
 *   double-forked escapees), `--unshare-net` for `network: "deny"`, and `--seccomp`.
 *   `unshare(1)` is not used as a fallback: it makes the command itself PID 1, which
 *   silently ignores SIGTERM and other default-action signals.
 * - `prlimit` (util-linux), else `sh` with `ulimit`, for RLIMIT_AS and RLIMIT_CPU.
 * - cgroup v2 detection, reported in the `enforced` record.
 */
export interface SandboxCapabilities {
  /** Path of a bubblewrap that works here (probed), or null. */
  bwrap: string | null;
  /** Why bubblewrap is unusable, when it is. */
  bwrapReason?: string;
  prlimit: string | null;
  /** A POSIX shell for the `ulimit` fallback. */
  shell: string | null;
  /** Whether the seccomp network filter exists for this CPU architecture. */
  seccomp: boolean;
  cgroupV2: { detected: boolean; reason: string };
}

export function findExecutable(name: string, path: string | undefined): string | null {
  const candidates = name.includes("/")
    ? [name]
    : (path ?? "")
        .split(delimiter)
        .filter((dir) => dir !== "" && isAbsolute(dir))
        .map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function probeBwrap(path: string | null): { bwrap: string | null; reason?: string } {
  if (path === null) return { bwrap: null, reason: "bwrap_not_installed" };
  const probe = spawnSync(
    path,
    ["--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--", "true"],
    {
      stdio: "ignore",
      timeout: 10_000,
    },
  );
  return probe.status === 0 ? { bwrap: path } : { bwrap: null, reason: "bwrap_not_permitted" };
}

function detectCgroupV2(): { detected: boolean; reason: string } {
  const controllers = "/sys/fs/cgroup/cgroup.controllers";
  if (!existsSync(controllers)) return { detected: false, reason: "cgroup_v2_not_mounted" };
  const list = readFileSync(controllers, "utf8").split(/\s+/);
  if (!list.includes("memory")) return { detected: false, reason: "cgroup_v2_memory_controller_missing" };
  return { detected: true, reason: "cgroup_v2_available" };
}

let cached: SandboxCapabilities | undefined;

export function detectSandboxCapabilities(): SandboxCapabilities {
  if (cached !== undefined) return cached;
  const searchPath = `${process.env["PATH"] ?? ""}${delimiter}${SYSTEM_PATH}`;
  const linux = process.platform === "linux";
  const bwrap = linux
    ? probeBwrap(findExecutable("bwrap", searchPath))
    : { bwrap: null, reason: "not_linux" };
  const arch = process.arch === "x64" || process.arch === "arm64";
  cached = {
    bwrap: bwrap.bwrap,
    ...(bwrap.reason === undefined ? {} : { bwrapReason: bwrap.reason }),
    prlimit: linux ? findExecutable("prlimit", searchPath) : null,
    shell: findExecutable("sh", searchPath),
    seccomp: linux && arch,
    cgroupV2: linux ? detectCgroupV2() : { detected: false, reason: "not_linux" },
  };
  return cached;
}
