import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BallastError } from "../errors.ts";
import { detectSandboxCapabilities, findExecutable, type SandboxCapabilities } from "./capabilities.ts";
import { exec } from "./exec.ts";
import { enforcementFor, formatExecHeader } from "./run-process.ts";

const caps = detectSandboxCapabilities();
const noBwrap: SandboxCapabilities = { ...caps, bwrap: null, bwrapReason: "bwrap_not_installed" };
const NODE = process.execPath;
const work = mkdtempSync(join(tmpdir(), "ballast-exec-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A unique `sleep` duration: its command line identifies the process in /proc. */
function marker(): string {
  return `300.${randomBytes(4).readUInt32BE(0)}`;
}

/** Live processes whose command line contains `needle` (zombies have none, so they do not count). */
function survivors(needle: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\u0000", " ");
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

async function expectNoSurvivors(needle: string): Promise<void> {
  // Namespace teardown is immediate but reaping is asynchronous: give it a moment.
  for (let i = 0; i < 40 && survivors(needle).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(survivors(needle)).toEqual([]);
}

describe("the machine", () => {
  it("has bubblewrap installed by scripts/install-sandbox-deps.sh, and prlimit", () => {
    expect(caps.bwrap).not.toBeNull();
    expect(caps.prlimit).not.toBeNull();
    expect(detectSandboxCapabilities()).toBe(caps);
    expect(findExecutable("definitely-not-a-command", process.env["PATH"])).toBeNull();
    expect(findExecutable("/bin/sh", undefined)).toBe("/bin/sh");
  });
});

describe("statuses", () => {
  it("runs a command and captures its output", async () => {
    const r = await exec("sh", ["-c", "echo out; echo err >&2; cat"], { stdin: "from stdin" });
    expect(r).toMatchObject({
      status: "OK",
      exitCode: 0,
      signal: null,
      reason: null,
      stdout: "out\nfrom stdin",
      stderr: "err\n",
    });
    expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.truncated).toBe(false);
    expect(r.policy).toBeNull();
  });

  it("reports a nonzero exit", async () => {
    expect(await exec("sh", ["-c", "exit 3"])).toMatchObject({
      status: "NONZERO",
      exitCode: 3,
      reason: null,
    });
  });

  it("maps a timeout to TIMEOUT with exit code 124", async () => {
    const r = await exec("sleep", [marker()], { timeoutMs: 200 });
    expect(r).toMatchObject({ status: "TIMEOUT", exitCode: 124, reason: "timeout" });
    expect(r.durationMs).toBeGreaterThanOrEqual(200);
  });

  it("maps a run that reached the limit without the timer firing to TIMEOUT (watchdog)", async () => {
    const readings = [0, 1500];
    const r = await exec("true", [], { timeoutMs: 1000, clock: () => readings.shift() ?? 1500 });
    expect(r).toMatchObject({ status: "TIMEOUT", exitCode: 124, reason: "timeout_watchdog" });
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
  });

  it("measures duration with the monotonic clock, not the wall clock", async () => {
    const realNow = Date.now;
    Date.now = () => 0;
    try {
      const r = await exec("true");
      expect(r.durationMs).toBeGreaterThan(0);
      expect(r.durationMs).toBeLessThan(60_000);
    } finally {
      Date.now = realNow;
    }
  });

  it("reports a command killed by a signal", async () => {
    expect(await exec("sh", ["-c", "kill -KILL $$"])).toMatchObject({
      status: "KILLED",
      exitCode: null,
      signal: "SIGKILL",
      reason: "signal:SIGKILL",
    });
  });

  it("kills the command when aborted", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(await exec("sleep", [marker()], { signal: controller.signal })).toMatchObject({
      status: "KILLED",
      reason: "aborted",
    });
    const already = AbortSignal.abort();
    expect(await exec("sleep", [marker()], { signal: already })).toMatchObject({
      status: "KILLED",
      reason: "aborted",
    });
  });

  it("maps a memory-limit breach to MEM_LIMIT", async () => {
    const r = await exec("sh", ["-c", 'x=aaaaaaaaaaaaaaaa; while true; do x="$x$x"; done'], {
      memBytes: 64 * 1024 * 1024,
    });
    expect(r).toMatchObject({ status: "MEM_LIMIT", reason: "memory_limit" });
    expect(r.enforced.memory).toEqual({
      requested: true,
      applied: true,
      mechanism: "rlimit_as_prlimit",
      reason: null,
      bytes: 64 * 1024 * 1024,
    });
    const viaStderr = await exec(
      NODE,
      ["-e", "process.stderr.write('Cannot allocate memory'); process.exit(1)"],
      { memBytes: 2 ** 34 },
    );
    expect(viaStderr.status).toBe("MEM_LIMIT");
  });

  it("maps a CPU-limit breach to KILLED with reason cpu_limit", async () => {
    const r = await exec("sh", ["-c", "while true; do :; done"], { cpuSeconds: 1 });
    expect(r).toMatchObject({ status: "KILLED", reason: "cpu_limit" });
    expect(r.enforced.cpu).toMatchObject({ applied: true, seconds: 1 });
  });

  it("enforces limits through ulimit when prlimit is missing", async () => {
    const r = await exec("sh", ["-c", "ulimit -v; ulimit -t"], {
      memBytes: 64 * 1024 * 1024,
      cpuSeconds: 5,
      capabilities: { ...caps, prlimit: null },
    });
    expect(r.stdout).toBe("65536\n5\n");
    expect(r.enforced.memory.mechanism).toBe("rlimit_as_ulimit");
  });

  it("reports a missing command or working directory as INTERNAL_ERROR with a stable reason", async () => {
    expect(await exec("no-such-command-here")).toMatchObject({
      status: "INTERNAL_ERROR",
      exitCode: 1,
      reason: "command_not_found",
    });
    expect(await exec("true", [], { cwd: join(work, "missing") })).toMatchObject({ reason: "cwd_not_found" });
    const file = join(work, "a-file");
    writeFileSync(file, "x");
    expect(await exec("true", [], { cwd: file })).toMatchObject({ reason: "cwd_not_directory" });
  });

  it("rejects bad options with a clear error", async () => {
    const bad: [string, string[], object][] = [
      ["", [], {}],
      ["sh", ["a\u0000b"], {}],
      ["sh", [], { timeoutMs: 0 }],
      ["sh", [], { maxOutputBytes: 1.5 }],
      ["sh", [], { memBytes: 10 }],
      ["sh", [], { network: "maybe" }],
      ["sh", [], { traceId: "has space" }],
    ];
    for (const [command, args, options] of bad) {
      await expect(exec(command, args, options)).rejects.toSatisfy(
        (e) => BallastError.isInstance(e) && e.code.startsWith("exec_"),
      );
    }
  });

  it("prints a one-line header for logs", () => {
    expect(formatExecHeader({ traceId: "t1", durationMs: 12.6, status: "TIMEOUT", exitCode: 124 })).toBe(
      "[sandbox] traceId=t1 duration_ms=13 status=TIMEOUT rc=124",
    );
    expect(formatExecHeader({ traceId: "t2", durationMs: 1, status: "KILLED", exitCode: null })).toMatch(
      /rc=none$/,
    );
  });
});

describe("output", () => {
  it("truncates each stream at a UTF-8 boundary with the marker", async () => {
    const r = await exec(
      NODE,
      ["-e", "process.stdout.write('é'.repeat(100)); process.stderr.write('x'.repeat(50))"],
      {
        maxOutputBytes: 11,
      },
    );
    expect(r.stdout).toBe(`${"é".repeat(5)}\n[TRUNCATED at 11 bytes]`);
    expect(r.stderr).toBe(`${"x".repeat(11)}\n[TRUNCATED at 11 bytes]`);
    expect([r.stdoutBytes, r.stderrBytes, r.truncated]).toEqual([200, 50, true]);
  });

  it("replaces invalid UTF-8 deterministically", async () => {
    const r = await exec("printf", ["a\\377b"]);
    expect(r.stdout).toBe("a\ufffdb");
  });

  it("redacts stderr unless told not to", async () => {
    const script = "echo 'Authorization: Bearer abcdefghijklmnop' >&2";
    expect((await exec("sh", ["-c", script])).stderr).toBe("Authorization: <<REDACTED>>\n");
    expect((await exec("sh", ["-c", script], { redactStderr: false })).stderr).toContain("abcdefghijklmnop");
  });
});

describe("environment and temp dirs", () => {
  it("builds the environment from an allowlist, propagating coverage settings", async () => {
    process.env["BALLAST_TEST_SECRET_TOKEN"] = "do-not-pass-me";
    process.env["COVERAGE_RCFILE"] = "/tmp/rc";
    process.env["BALLAST_TEST_EXTRA"] = "extra";
    try {
      const r = await exec("env", [], { env: { GIVEN: "1" }, envAllowlist: ["BALLAST_TEST_EXTRA"] });
      const names = r.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("=")[0]);
      expect(names).toContain("GIVEN");
      expect(names).toContain("COVERAGE_RCFILE");
      expect(names).toContain("BALLAST_TEST_EXTRA");
      expect(names).toContain("PATH");
      expect(names).not.toContain("BALLAST_TEST_SECRET_TOKEN");
      expect(r.stdout).toContain(`BALLAST_TRACE_ID=${r.traceId}`);
    } finally {
      delete process.env["BALLAST_TEST_SECRET_TOKEN"];
      delete process.env["COVERAGE_RCFILE"];
      delete process.env["BALLAST_TEST_EXTRA"];
    }
  });

  it("names the temp dir after the trace id and removes it on success and on failure", async () => {
    for (const [script, status] of [
      ["echo $TMPDIR; touch $TMPDIR/file", "OK"],
      ["echo $TMPDIR; touch $TMPDIR/file; exit 9", "NONZERO"],
      [`echo $TMPDIR; sleep ${marker()}`, "TIMEOUT"],
    ] as const) {
      const traceId = `trace_${randomBytes(4).toString("hex")}`;
      const r = await exec("sh", ["-c", script], { traceId, timeoutMs: 300 });
      expect(r.status).toBe(status);
      const dir = r.stdout.trim();
      expect(dir.startsWith(join(tmpdir(), `ballast-${traceId}-`))).toBe(true);
      expect(dir.length).toBeLessThan(200);
      expect(existsSync(dir)).toBe(false);
    }
  });
});

describe("process tree", () => {
  for (const [mode, capabilities] of [
    ["PID namespace (bubblewrap)", caps],
    ["fallback without bubblewrap", noBwrap],
  ] as const) {
    describe(mode, () => {
      it("kills a background `sleep 300 &` on timeout", async () => {
        const m = marker();
        const r = await exec("sh", ["-c", `sleep ${m} & echo started; wait`], {
          timeoutMs: 300,
          capabilities,
        });
        expect(r).toMatchObject({ status: "TIMEOUT", stdout: "started\n" });
        await expectNoSurvivors(m);
      });

      it("kills a setsid escapee and a double fork", async () => {
        const m = marker();
        const script = `setsid sleep ${m} & (sleep ${m} &) ; sh -c 'sleep ${m} &' ; sleep ${m}`;
        const r = await exec("sh", ["-c", script], { timeoutMs: 300, capabilities });
        expect(r.status).toBe("TIMEOUT");
        await expectNoSurvivors(m);
      });

      it("kills a child that ignores SIGTERM", async () => {
        const m = marker();
        const r = await exec("sh", ["-c", `trap '' TERM; sleep ${m}; sleep ${m}`], {
          timeoutMs: 200,
          killGraceMs: 200,
          capabilities,
        });
        expect(r.status).toBe("TIMEOUT");
        await expectNoSurvivors(m);
      });

      it("returns when the command exits while a grandchild still holds the pipes, and leaves nothing behind", async () => {
        const m = marker();
        const r = await exec("sh", ["-c", `setsid sleep ${m} & echo done`], {
          timeoutMs: 30_000,
          capabilities,
        });
        expect(r).toMatchObject({ status: "OK", stdout: "done\n" });
        expect(r.durationMs).toBeLessThan(30_000);
        await expectNoSurvivors(m);
      });
    });
  }

  it("records how the tree was contained", async () => {
    expect((await exec("true")).enforced.pidNamespace).toEqual({
      requested: true,
      applied: true,
      mechanism: "bwrap_pid_namespace",
      reason: null,
    });
    expect((await exec("true", [], { capabilities: noBwrap })).enforced.pidNamespace).toMatchObject({
      applied: false,
      reason: "bwrap_not_installed",
    });
    // Inside the namespace the command cannot see the host's processes.
    expect((await exec("sh", ["-c", "ls /proc | grep -c '^[0-9]'"])).stdout.trim()).toMatch(/^[1-5]$/);
  });
});

describe("network", () => {
  it("denies the network: a socket attempt ends as SANDBOX_DENIED", async () => {
    const r = await exec(
      NODE,
      ["-e", "require('net').connect(80, '1.1.1.1').on('error', () => process.exit(3))"],
      {
        network: "deny",
      },
    );
    expect(r).toMatchObject({ status: "SANDBOX_DENIED", reason: "network_denied", signal: "SIGSYS" });
    expect(r.enforced.network).toEqual({
      requested: true,
      applied: true,
      mechanism: "bwrap_unshare_net",
      reason: null,
      mode: "deny",
    });
    expect(r.enforced.seccomp).toMatchObject({ applied: true, mechanism: "seccomp_trap_inet_socket" });
  });

  it("leaves only loopback in the namespace, and local (AF_UNIX) sockets work", async () => {
    const r = await exec("cat", ["/proc/net/dev"], { network: "deny" });
    const interfaces = r.stdout
      .split("\n")
      .slice(2)
      .filter((l) => l.trim() !== "")
      .map((l) => l.split(":")[0]!.trim());
    expect(interfaces).toEqual(["lo"]);
    const unix = await exec(
      NODE,
      [
        "-e",
        "const s=require('net').createServer().listen(process.env.TMPDIR+'/s.sock',()=>{console.log('ok');s.close()})",
      ],
      { network: "deny" },
    );
    expect(unix).toMatchObject({ status: "OK", stdout: "ok\n" });
  });

  it("without seccomp, recognises the unreachable network from the command's error", async () => {
    const r = await exec(
      NODE,
      [
        "-e",
        "require('net').connect(80,'1.1.1.1').on('error',(e)=>{console.error(e.message);process.exit(2)})",
      ],
      {
        network: "deny",
        capabilities: { ...caps, seccomp: false },
      },
    );
    expect(r).toMatchObject({ status: "SANDBOX_DENIED", reason: "network_denied", exitCode: 2 });
    expect(r.enforced.seccomp).toMatchObject({ applied: false, reason: "seccomp_arch_unsupported" });
  });
});

describe("limits that cannot be enforced", () => {
  it("fail with INTERNAL_ERROR and a stable reason unless allowPartial", async () => {
    expect(await exec("true", [], { network: "deny", capabilities: noBwrap })).toMatchObject({
      status: "INTERNAL_ERROR",
      exitCode: 1,
      reason: "network_isolation_unavailable",
    });
    const noRlimit = { ...caps, prlimit: null, shell: null };
    expect(await exec("true", [], { memBytes: 2 ** 30, capabilities: noRlimit })).toMatchObject({
      status: "INTERNAL_ERROR",
      exitCode: 1,
      reason: "rlimit_unavailable",
    });
    const partial = await exec("true", [], {
      memBytes: 2 ** 30,
      cpuSeconds: 5,
      allowPartial: true,
      capabilities: noRlimit,
    });
    expect(partial.status).toBe("OK");
    expect(partial.enforced.memory).toMatchObject({
      requested: true,
      applied: false,
      reason: "rlimit_unavailable",
    });
    expect(partial.enforced.cpu).toMatchObject({
      requested: true,
      applied: false,
      reason: "rlimit_unavailable",
    });
    const partialNet = await exec("true", [], { network: "deny", allowPartial: true, capabilities: noBwrap });
    expect(partialNet.status).toBe("OK");
    expect(partialNet.enforced.network).toMatchObject({
      applied: false,
      reason: "network_isolation_unavailable",
    });
    expect(partialNet.enforced.seccomp).toMatchObject({ applied: false, reason: "bwrap_unavailable" });
  });

  it("describes cgroup v2 detection with stable keys", () => {
    const off = enforcementFor({}).cgroupsV2;
    expect(Object.keys(off).sort()).toEqual(["applied", "detected", "enabledEnv", "reason"]);
    expect(off).toMatchObject({ enabledEnv: false, applied: false, reason: "disabled" });
    process.env["BALLAST_SANDBOX_CGROUPS_V2"] = "1";
    try {
      const missing = enforcementFor({
        capabilities: { ...caps, cgroupV2: { detected: false, reason: "cgroup_v2_not_mounted" } },
      });
      expect(missing.cgroupsV2).toEqual({
        enabledEnv: true,
        detected: false,
        applied: false,
        reason: "cgroup_v2_not_mounted",
      });
      const present = enforcementFor({
        capabilities: { ...caps, cgroupV2: { detected: true, reason: "cgroup_v2_available" } },
      });
      expect(present.cgroupsV2).toEqual({
        enabledEnv: true,
        detected: true,
        applied: false,
        reason: "attach_unsupported_rlimits_used",
      });
    } finally {
      delete process.env["BALLAST_SANDBOX_CGROUPS_V2"];
    }
  });
});
