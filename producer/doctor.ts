// `conntrail doctor [--json]`: what capture can do on this host, without Kafka
// or a registry. Forces each rung of the ladder in turn with the DNS program
// beside it, makes one TCP connect and one DNS reply on loopback, and reports
// per program: loaded / attached / captured, and why not (the verifier's last
// lines, from that program's own load).
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { release } from 'node:os';
import dnsPacket from 'dns-packet';
import { AttachError, DEFAULT_LADDER, PROBE_TARGETS, activeLsms, libbpfVersion } from 'bpf-native-loader';
import type { AttachAttempt, DnsAttachStatus, ProbeName, ProgramFeatures } from 'bpf-native-loader';
import { CaptureSource } from './source/capture.ts';
import type { CaptureEvent } from './source/types.ts';

export interface ProgramCheck {
  loaded: boolean;
  attached: boolean;
  captured: boolean;
  /** Why not, in one sentence (absent when captured). */
  reason?: string;
  code?: string;
  /** The last lines of libbpf's log for this program (the verifier's verdict when refused). */
  verifier?: string[];
  features?: ProgramFeatures;
}

export interface RungCheck extends ProgramCheck {
  probe: ProbeName;
  target: string;
  /** The DNS program, loaded beside this rung. */
  dns: ProgramCheck & { netnsScoped: boolean };
}

export interface DoctorReport {
  kernel: { release: string; btf: boolean; lsm: string[] | null; libbpf: string };
  rungs: RungCheck[];
  /** The rung the default ladder would pick (the first that captured). */
  defaultProbe: ProbeName | null;
  ok: boolean;
}

const LOG_LINES = 6;

function tail(log: string | undefined): string[] | undefined {
  if (!log) return undefined;
  const lines = log.trim().split('\n').filter((l) => l.trim() !== '');
  return lines.length ? lines.slice(-LOG_LINES) : undefined;
}


function failedRung(a: AttachAttempt): RungCheck {
  const loaded = a.stage === 'attach' || a.stage === 'config' || a.stage === 'ringbuf';
  return {
    probe: a.probe, target: a.target, loaded, attached: false, captured: false,
    reason: a.reason, code: a.code, verifier: tail(a.log), features: a.features,
    dns: { loaded: false, attached: false, captured: false, netnsScoped: false, reason: `not tried: the ${a.probe} rung failed` },
  };
}

function dnsCheck(d: DnsAttachStatus, captured: boolean): RungCheck['dns'] {
  if (!d.attached) {
    return { loaded: d.stage === 'attach', attached: false, captured: false, netnsScoped: false, reason: d.reason, code: d.code, verifier: tail(d.log) };
  }
  return {
    loaded: true, attached: true, captured, netnsScoped: d.netnsScoped,
    ...(captured ? {} : { reason: 'attached, but the test reply on loopback was not seen' }),
  };
}

/**
 * A loopback DNS exchange: a server on 127.53.x.y:53 answers one A query.
 * Resolves with the server's address, or why there was no exchange (port 53
 * needs root or CAP_NET_BIND_SERVICE: the service's user has neither).
 */
async function dnsExchange(): Promise<string | { notTried: string }> {
  const address = `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
  const server = createSocket('udp4');
  const client = createSocket('udp4');
  try {
    server.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const reply = dnsPacket.encode({
        type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE, questions: q.questions,
        answers: [{ type: 'A', class: 'IN', name: 'doctor.conntrail.test', ttl: 60, data: '127.0.0.1' }],
      });
      server.send(reply, rinfo.port, rinfo.address);
    });
    server.bind(53, address);
    try {
      await once(server, 'listening');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM') throw err;
      return { notTried: `attached; no test reply sent: binding ${address}:53 needs root or CAP_NET_BIND_SERVICE (${code})` };
    }
    client.bind(0, '127.0.0.1');
    await once(client, 'listening');
    const query = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'doctor.conntrail.test' }] });
    client.send(query, 53, address);
    await Promise.race([once(client, 'message'), new Promise((r) => setTimeout(r, 2000))]);
    return address;
  } finally {
    client.close();
    server.close();
  }
}

/** A TCP connect from this process to a loopback port nothing listens on; resolves with the port. */
async function refusedConnect(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  await new Promise<void>((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    const done = (): void => { s.destroy(); resolve(); };
    s.once('connect', done);
    s.once('error', done);
  });
  return port;
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

async function checkRung(probe: ProbeName, cgroupPath: string | undefined): Promise<RungCheck> {
  const events: CaptureEvent[] = [];
  let source: CaptureSource;
  try {
    source = CaptureSource.open({
      ladder: [probe], captureDns: true, excludeSelf: false, processContext: false, pollIntervalMs: 5,
      ...(cgroupPath ? { cgroupPath } : {}),
      onEvents: (evs) => { for (const e of evs) events.push(e); },
    });
  } catch (err) {
    if (err instanceof AttachError && err.attempts[0]) return failedRung(err.attempts[0]);
    throw err;
  }
  try {
    const attempt = source.attempts.at(-1);
    const port = await refusedConnect();
    const exchange = source.dns.attached ? await dnsExchange() : undefined;
    const dnsServer = typeof exchange === 'string' ? exchange : undefined;
    const connectSeen = await waitFor(() => events.some((e) => e.kind === 'connect' && e.pid === process.pid && e.dstPort === port), 3000);
    const dnsSeen = dnsServer !== undefined && await waitFor(() => events.some((e) => e.kind === 'dns' && e.srcIP === dnsServer), 3000);
    const dns = dnsCheck(source.dns, dnsSeen);
    if (typeof exchange === 'object') dns.reason = exchange.notTried;
    return {
      probe, target: PROBE_TARGETS[probe], loaded: true, attached: true, captured: connectSeen, features: attempt?.features,
      ...(connectSeen ? {} : { reason: 'attached, but the test connect on loopback was not seen' }),
      dns,
    };
  } finally {
    await source.stop();
  }
}

export async function runDoctor(opts: { cgroupPath?: string } = {}): Promise<DoctorReport> {
  const rungs: RungCheck[] = [];
  for (const probe of DEFAULT_LADDER) rungs.push(await checkRung(probe, opts.cgroupPath));
  const winner = rungs.find((r) => r.captured);
  return {
    kernel: { release: release(), btf: existsSync('/sys/kernel/btf/vmlinux'), lsm: activeLsms() ?? null, libbpf: libbpfVersion() },
    rungs,
    defaultProbe: winner?.probe ?? null,
    ok: winner !== undefined,
  };
}

function state(c: ProgramCheck): string {
  if (c.captured) return 'loaded, attached, captured';
  if (c.attached) return 'loaded, attached, NOT captured';
  if (c.loaded) return 'loaded, NOT attached';
  return 'NOT loaded';
}

/** The report as text: one line per program, the verifier's last lines indented below a refusal. */
export function formatDoctor(r: DoctorReport): string {
  const out = [
    `kernel ${r.kernel.release}; BTF ${r.kernel.btf ? 'yes' : 'NO (/sys/kernel/btf/vmlinux missing)'}; ` +
    `LSM list ${r.kernel.lsm ? r.kernel.lsm.join(',') : 'unknown (securityfs not mounted)'}; libbpf ${r.kernel.libbpf}`,
  ];
  for (const c of r.rungs) {
    out.push(`${c.probe.padEnd(10)} ${state(c)}${c.reason ? `: ${c.code ? c.code + ', ' : ''}${c.reason}` : ''}`);
    for (const l of c.verifier ?? []) if (!c.captured) out.push(`             | ${l}`);
    if (c.attached) {
      const d = c.dns;
      out.push(`  + dns    ${state(d)}${d.attached ? (d.netnsScoped ? ' (per network namespace)' : ' (host-wide: no netns id on this kernel)') : ''}${d.reason ? `: ${d.reason}` : ''}`);
      for (const l of d.verifier ?? []) if (!d.attached) out.push(`             | ${l}`);
    }
  }
  out.push(r.defaultProbe ? `the default ladder picks ${r.defaultProbe}` : 'NO connect rung captures on this host');
  return out.join('\n') + '\n';
}
