// What each kernel the project is tested on must do: which rung the default
// ladder picks, which rungs capture when forced, whether DNS replies carry a
// netns id. The VM harness (tools/vm, npm run test:kernels) says which kernel
// it booted in CONNTRAIL_KERNEL; on the host the release is matched. A kernel
// with no row fails the tests that need one (CI) instead of guessing.
import { release } from 'node:os';
import { activeLsms } from 'bpf-native-loader';
import type { ProbeName } from 'bpf-native-loader';

export interface KernelExpectation {
  /** The row's name (CONNTRAIL_KERNEL). */
  name: string;
  /** The rung the default ladder must pick. */
  winner: ProbeName;
  /** Rungs that must load, attach and capture when forced. */
  works: readonly ProbeName[];
  /** Rungs that must fail when forced (with a reason). */
  refused: readonly ProbeName[];
  /** DNS records carry the receiving netns cookie (else the DNS cache is host-wide). */
  dnsNetns: boolean;
  /** BPF trampolines (fentry/fexit) load: the connect_exit extra is fexit/__sys_connect. */
  trampolines: boolean;
}

const ALL: readonly ProbeName[] = ['lsm', 'fentry', 'kprobe', 'cgroup', 'tracepoint'];

/** A Debian kernel: everything is built in; bpf in the lsm= list decides lsm vs fentry. */
function debian(name: string, lsmListed: boolean, o: { dnsNetns: boolean }): KernelExpectation {
  return lsmListed
    ? { name, winner: 'lsm', works: ALL, refused: [], trampolines: true, ...o }
    : { name, winner: 'fentry', works: ALL.filter((p) => p !== 'lsm'), refused: ['lsm'], trampolines: true, ...o };
}

const ROWS: Record<string, (lsmListed: boolean) => KernelExpectation> = {
  // 5.10: no bpf_get_current_task_btf (CO-RE reads instead), no socket cookie helper for tracing programs (5.12)
  'debian-5.10': (l) => debian('debian-5.10', l, { dnsNetns: true }),
  'debian-6.1': (l) => debian('debian-6.1', l, { dnsNetns: true }),
  'debian-6.12': (l) => debian('debian-6.12', l, { dnsNetns: true }),
  // this machine kind's own 6.18: lsm and fentry refused before the verifier, no kprobes
  host: () => ({ name: 'host', winner: 'cgroup', works: ['cgroup', 'tracepoint'], refused: ['lsm', 'fentry', 'kprobe'], dnsNetns: true, trampolines: false }),
};


/** The row for the running kernel, or a sentence saying why there is none. */
export function kernelExpectation(): KernelExpectation | string {
  const named = process.env.CONNTRAIL_KERNEL;
  const key = named ?? (/-fc-/.test(release()) ? 'host' : undefined);
  if (!key) return `no expectation for kernel ${release()}: add a row to test/capture/kernels.ts or set CONNTRAIL_KERNEL`;
  const row = ROWS[key];
  if (!row) return `CONNTRAIL_KERNEL=${key} has no row in test/capture/kernels.ts (rows: ${Object.keys(ROWS).join(', ')})`;
  return row(activeLsms()?.includes('bpf') === true);
}
