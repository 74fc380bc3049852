/**
 * A tiny classic-BPF seccomp filter, handed to bubblewrap (`--seccomp FD`) for
 * `network: "deny"`: creating an AF_INET or AF_INET6 socket raises SIGSYS
 * (SECCOMP_RET_TRAP), so an attempt to use the network ends the command in a way we can
 * name (`SANDBOX_DENIED`) instead of a generic connection error. The empty network
 * namespace remains the real barrier; this makes the denial visible.
 *
 * Written by hand because libseccomp has no maintained Node binding; the program is nine
 * instructions and its layout is fixed by the kernel ABI (struct sock_filter, struct
 * seccomp_data).
 */

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_TRAP = 0x00030000;
const AF_INET = 2;
const AF_INET6 = 10;
// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG0 = 16; // low 32 bits on little-endian machines

interface ArchInfo {
  auditArch: number;
  socketNr: number;
  /** x32 syscalls share the arch value but set this bit in nr. */
  x32Bit?: number;
}

const ARCHES: Record<string, ArchInfo> = {
  x64: { auditArch: 0xc000003e, socketNr: 41, x32Bit: 0x40000000 },
  arm64: { auditArch: 0xc00000b7, socketNr: 198 },
};

interface Insn {
  code: number;
  jt: number | string;
  jf: number | string;
  k: number;
  label?: string;
}

/** The filter for `arch` (`process.arch`), or `undefined` when the architecture is not supported. */
export function networkDenyFilter(arch: string = process.arch): Buffer | undefined {
  const info = ARCHES[arch];
  if (info === undefined) return undefined;
  const program: Insn[] = [
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARCH },
    // Another ABI (e.g. 32-bit code) could reach socketcall: refuse it outright.
    { code: BPF_JEQ_K, jt: 0, jf: "trap", k: info.auditArch },
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_NR },
    ...(info.x32Bit === undefined ? [] : [{ code: BPF_JGE_K, jt: "trap", jf: 0, k: info.x32Bit }]),
    { code: BPF_JEQ_K, jt: 0, jf: "allow", k: info.socketNr },
    { code: BPF_LD_W_ABS, jt: 0, jf: 0, k: OFFSET_ARG0 },
    { code: BPF_JEQ_K, jt: "trap", jf: 0, k: AF_INET },
    { code: BPF_JEQ_K, jt: "trap", jf: 0, k: AF_INET6 },
    { code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_ALLOW, label: "allow" },
    { code: BPF_RET_K, jt: 0, jf: 0, k: SECCOMP_RET_TRAP, label: "trap" },
  ];
  const labels = new Map(
    program.flatMap((insn, i) => (insn.label === undefined ? [] : [[insn.label, i] as const])),
  );
  const out = Buffer.alloc(program.length * 8);
  program.forEach((insn, i) => {
    const jump = (target: number | string) =>
      typeof target === "number" ? target : labels.get(target)! - i - 1;
    out.writeUInt16LE(insn.code, i * 8);
    out.writeUInt8(jump(insn.jt), i * 8 + 2);
    out.writeUInt8(jump(insn.jf), i * 8 + 3);
    out.writeUInt32LE(insn.k >>> 0, i * 8 + 4);
  });
  return out;
}
