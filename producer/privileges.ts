// Leaving root once capture is attached: `conntrail run` started as root (sudo,
// a container, an init script) keeps only what it still needs afterwards. The
// packaged systemd unit starts it as the conntrail user with ambient
// capabilities instead, so there is nothing to leave there.
import { readdirSync, readFileSync } from 'node:fs';
import { CAPABILITIES, dropPrivileges, type CapabilityName } from 'bpf-native-loader';
import type { LoggerLike } from './log.ts';

/**
 * What a running conntrail still needs once attached:
 * - bpf: before 6.5 every bpf() call needs it when unprivileged BPF is off
 *   (Debian's default), and the consumer reads the drop counters with one;
 * - sys_ptrace: /proc/<pid>/exe of another user's process (the kernel's ptrace
 *   access check); ptrace(2) itself stays denied by the unit's syscall filter.
 */
export const KEPT_CAPABILITIES: readonly CapabilityName[] = ['bpf', 'sys_ptrace'];

/** What leaving root takes: a new uid and gid, and cutting the bounding set. */
const SWITCH_CAPABILITIES = { setgid: 6, setuid: 7, setpcap: 8 } as const;

/** The capabilities in a /proc status mask, by name (unknown bits as cap_<n>). */
export function capabilityNames(mask: bigint): string[] {
  const byNumber = new Map<number, string>([...Object.entries(CAPABILITIES), ...Object.entries(SWITCH_CAPABILITIES)].map(([k, v]) => [v, k]));
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) if (mask & (1n << BigInt(bit))) out.push(byNumber.get(bit) ?? `cap_${bit}`);
  return out;
}

/** A thread's credentials, from /proc/<pid>/task/<tid>/status. */
export interface ThreadCredentials {
  tid: number;
  name: string;
  uid: number;
  gid: number;
  capEff: bigint;
  capPrm: bigint;
  capBnd: bigint;
  capAmb: bigint;
  noNewPrivs: boolean;
}

export function parseStatus(tid: number, text: string): ThreadCredentials {
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1] ?? '';
  const hex = (name: string): bigint => BigInt('0x' + (field(name) || '0'));
  return {
    tid,
    name: field('Name'),
    uid: Number(field('Uid').split(/\s+/)[1] ?? -1), // effective
    gid: Number(field('Gid').split(/\s+/)[1] ?? -1),
    capEff: hex('CapEff'),
    capPrm: hex('CapPrm'),
    capBnd: hex('CapBnd'),
    capAmb: hex('CapAmb'),
    noNewPrivs: field('NoNewPrivs') === '1',
  };
}

/** Every thread of a process (threads that exit while read are skipped). */
export function threadCredentials(pid: number | 'self' = 'self'): ThreadCredentials[] {
  const out: ThreadCredentials[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(parseStatus(Number(tid), readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')));
    } catch {
      // the thread exited
    }
  }
  return out;
}

export interface LeaveRootOptions {
  /** Users to become, the first that exists (default conntrail, then nobody). */
  users?: readonly string[];
  keep?: readonly CapabilityName[];
}

/** After the attach: from root to an unprivileged user keeping KEPT_CAPABILITIES, and says so. No-op when not root. */
export function leaveRoot(log: LoggerLike, opts: LeaveRootOptions = {}): void {
  if (process.geteuid?.() !== 0) {
    const self = threadCredentials().find((t) => t.tid === process.pid);
    log.info({ uid: process.geteuid?.(), capabilities: self ? capabilityNames(self.capEff) : [] }, 'not started as root: running with the capabilities given');
    return;
  }
  const self = threadCredentials().find((t) => t.tid === process.pid);
  const held = self ? self.capEff : 0n;
  const has = (n: number): boolean => (held & (1n << BigInt(n))) !== 0n;
  // root in a container may lack what changing user needs: then it stays as it was started
  const missing = Object.entries(SWITCH_CAPABILITIES).filter(([, n]) => !has(n)).map(([k]) => k);
  if (missing.length > 0) {
    log.warn({ uid: 0, capabilities: capabilityNames(held), missing },
      `started as root without ${missing.join(', ')}: staying root with the capabilities given`);
    return;
  }
  const keep = (opts.keep ?? KEPT_CAPABILITIES).filter((k) => has(CAPABILITIES[k]));
  const users = opts.users ?? ['conntrail', 'nobody'];
  let lastError: unknown;
  for (const user of users) {
    try {
      const { uid, gid } = dropPrivileges(user, keep);
      const threads = threadCredentials();
      const rooted = threads.filter((t) => t.uid === 0).length;
      log.info({ user, uid, gid, capabilities: [...keep], threads: threads.length, threadsStillRoot: rooted },
        `left root after attaching: running as ${user} (uid ${uid}) with ${keep.join(', ')} only`);
      return;
    } catch (err) {
      lastError = err;
      if (!/look up the user/.test((err as Error).message)) break;
    }
  }
  throw Object.assign(new Error(`could not leave root after attaching: ${(lastError as Error).message}`), { name: 'PrivilegeDropError', userFacing: true });
}
