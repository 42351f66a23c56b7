// capture.persist: a capture pinned in bpffs outlives its process. Connects
// made while no conntrail runs stay in the pinned ring and are delivered by
// the next one, which adopts the pinned capture; `conntrail detach` removes
// it; a pinned capture of another layout is replaced and its unread records
// counted; without persist nothing is pinned. Kernel-agnostic: the default
// ladder's winner (cgroup here, lsm or fentry in the Debian VMs) is pinned.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { getLayout, removePinned, type KernelCounters, type PersistStatus } from 'bpf-native-loader';
import { FLOOD, NODE, captureTest, flood, ownCgroup, refusedPort, run, sh, sleep } from './support.ts';

const CHILD = fileURLToPath(new URL('./fixtures/persist-capture.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../producer/cli.ts', import.meta.url));

interface Ready {
  ready: true; persist: PersistStatus; extras: { outcome: boolean; connectExit: boolean; exec: boolean }; report: string[]; ids: { programs: number[] }; kernel: KernelCounters;
}
interface Seen { port: number; pid: number }
interface Outcome { outcomePort: number; errno: number }
interface Exec { execPid: number }

/** A capture in a child process, pinned at pinPath, reporting connects to `ports`. */
function child(t: ExecutionContext, pinPath: string, ports: number[], opts: object = {}) {
  const proc = spawn(NODE, [CHILD, pinPath, ports.join(','), JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'inherit'] });
  // teardowns run last-registered first: a child a failed assertion left running goes before its pins
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  const seen: Seen[] = [];
  const outcomes: Outcome[] = [];
  const execs: Exec[] = [];
  let ready: (r: Ready) => void;
  const readyP = new Promise<Ready>((resolve) => { ready = resolve; });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const o = JSON.parse(line) as Partial<Ready> & Partial<Seen> & Partial<Outcome> & Partial<Exec>;
    if (o.ready) ready(o as Ready);
    else if (o.port !== undefined) seen.push(o as Seen);
    else if (o.outcomePort !== undefined) outcomes.push(o as Outcome);
    else if (o.execPid !== undefined) execs.push(o as Exec);
  });
  return {
    ready: readyP,
    seen,
    outcomes,
    execs,
    exited,
    send: (line: string) => proc.stdin.write(line + '\n'),
    kill: async () => { proc.kill('SIGKILL'); await exited; },
    async waitFor(what: string, pred: () => boolean, timeoutMs = 5000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
      }
    },
  };
}

/** A pin directory of this test's own, removed afterwards. */
function pinDir(t: ExecutionContext): string {
  const dir = `/sys/fs/bpf/conntrail-test-${randomBytes(4).toString('hex')}`;
  t.teardown(() => { removePinned(dir); });
  return dir;
}

async function refusedPorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await refusedPort());
  return [...out];
}

function progsLoaded(ids: number[]): number[] {
  const listed = (JSON.parse(sh('bpftool', ['prog', 'show', '-j'])) as { id: number }[]).map((p) => p.id);
  return ids.filter((id) => listed.includes(id));
}

await captureTest('persist: connects made while no process runs are delivered, by port, by the next one (adopted)', async (t) => {
  const pin = pinDir(t);
  const [before = 0, ...during] = await refusedPorts(11);
  const first = child(t, pin, [before, ...during]);
  const r1 = await first.ready;
  t.is(r1.persist.state, 'pinned', r1.report.join('\n'));
  t.true(r1.report.some((l) => l.includes(`persisted at ${pin}`)), r1.report.join('\n'));
  t.true(existsSync(`${pin}/tag`) && existsSync(`${pin}/ct_events`));
  const f = await flood('127.0.0.1', before, ['-n', '1']);
  await first.waitFor('the connect before the kill', () => first.seen.some((s) => s.port === before && s.pid === f.pid));
  await first.kill();

  // no conntrail runs: one connect to each port, by processes of known pid
  const made = new Map<number, number>();
  for (const port of during) made.set(port, (await flood('127.0.0.1', port, ['-n', '1'])).pid);

  const second = child(t, pin, [before, ...during]);
  const r2 = await second.ready;
  t.is(r2.persist.state, 'adopted', r2.report.join('\n'));
  t.true(r2.report.some((l) => l.includes(`adopted the ${r1.report[0]?.match(/probe (\w+)/)?.[1] ?? ''} capture pinned at ${pin}`)), r2.report.join('\n'));
  await second.waitFor('every connect made while none ran', () => during.every((p) => second.seen.some((s) => s.port === p)));
  t.false(second.seen.some((s) => s.port === before), 'the connect the first one delivered is not delivered again');
  for (const port of during) t.deepEqual(second.seen.filter((s) => s.port === port).map((s) => s.pid), [made.get(port)], `port ${port}`);
  // the extras were pinned too (raw tracepoint links pin on every kernel tested): the handshakes' ends and the execs
  t.true(r1.extras.outcome && r1.extras.exec, r1.report.join('\n'));
  await second.waitFor('the outcomes of the connects made while none ran', () => during.every((p) => second.outcomes.some((o) => o.outcomePort === p)));
  for (const port of during) t.deepEqual(second.outcomes.filter((o) => o.outcomePort === port).map((o) => o.errno), [111], `outcome of port ${port}`);
  await second.waitFor('the execs made while none ran', () => [...made.values()].every((pid) => second.execs.some((x) => x.execPid === pid)));
  // it still captures, into the same ring
  const after = await flood('127.0.0.1', before, ['-n', '1']);
  await second.waitFor('a connect after the adoption', () => second.seen.some((s) => s.pid === after.pid));
  await second.kill();
});

await captureTest('persist: stop() leaves the capture pinned; conntrail detach removes it and nothing captures after', async (t) => {
  const pin = pinDir(t);
  const c = child(t, pin, []);
  const r = await c.ready;
  t.is(r.persist.state, 'pinned');
  c.send('stop');
  t.is(await c.exited, 0);
  t.true(existsSync(`${pin}/tag`), 'a clean stop keeps the pins');
  const gone = r.ids.programs.filter((id) => !progsLoaded(r.ids.programs).includes(id));
  t.is(gone.length, 0, 'its programs stay attached with no process');
  // connect_exit is fexit where trampolines load: a tracing link, which every kernel tested can pin
  t.is(existsSync(`${pin}/link_connect_exit_0`), r.extras.connectExit, 'connect_exit pinned exactly when attached');

  const env = { ...process.env, CONNTRAIL_CAPTURE_PIN_PATH: pin };
  const detach = (): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
    const p = spawn(NODE, [CLI, 'detach'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  // without the VM harness's shared NODE_COMPILE_CACHE (root's): Node 24 aborts reading it as another user
  const denied = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/env', '-u', 'NODE_COMPILE_CACHE', `CONNTRAIL_CAPTURE_PIN_PATH=${pin}`, NODE, CLI, 'detach']);
  t.is(denied.code, 1, 'not root: it cannot');
  t.regex(denied.stderr.trim(), new RegExp(`^conntrail: detach: open pin directory at ${pin}: EACCES \\(run as root\\)$`));
  t.true(existsSync(`${pin}/tag`));
  const d = await detach();
  t.is(d.code, 0, d.stderr);
  t.regex(d.stdout, new RegExp(`removed the capture pinned at ${pin} \\(\\d+ pins\\)`));
  t.false(existsSync(pin));
  // the kernel frees the links' programs once nothing holds them (after an RCU grace period)
  const end = Date.now() + 5000;
  while (progsLoaded(r.ids.programs).length && Date.now() < end) await sleep(50);
  t.deepEqual(progsLoaded(r.ids.programs), [], 'no program of it left: no connect is captured');
  const again = await detach();
  t.is(again.code, 0);
  t.is(again.stdout.trim(), `conntrail detach: nothing pinned at ${pin}`);
});

await captureTest('persist: a pinned capture of another layout is replaced, its unread records counted in the report', async (t) => {
  const pin = pinDir(t);
  const ports = await refusedPorts(3);
  const first = child(t, pin, []);
  t.is((await first.ready).persist.state, 'pinned');
  await first.kill();
  for (const port of ports) await flood('127.0.0.1', port, ['-n', '1']);
  // what an older conntrail would have pinned: its tag says another layout version
  const tag = JSON.parse(sh('bpftool', ['map', 'dump', 'pinned', `${pin}/tag`, '-j'])) as { value: string[] }[];
  const value = [...(tag[0]?.value ?? [])];
  const other = getLayout().version + 1;
  value.splice(4, 4, ...[other & 0xff, (other >> 8) & 0xff, 0, 0].map((b) => `0x${b.toString(16).padStart(2, '0')}`));
  sh('bpftool', ['map', 'update', 'pinned', `${pin}/tag`, 'key', '0', '0', '0', '0', 'value', ...value]);

  const second = child(t, pin, ports);
  const r = await second.ready;
  t.is(r.persist.state, 'pinned', r.report.join('\n'));
  t.regex(r.persist.replaced?.reason ?? '', new RegExp(`record layout v${other}, this conntrail's is v${getLayout().version}`));
  t.true((r.persist.replaced?.records ?? 0) >= ports.length, `at least the ${ports.length} connects made while none ran: ${r.persist.replaced?.records}`);
  const line = r.report.find((l) => l.includes('replaced the instance pinned at'));
  t.regex(line ?? '', /\d+ records \(\d+ bytes\) left in its ring could not be drained and are dropped/, r.report.join('\n'));
  await sleep(100);
  t.deepEqual(second.seen, [], 'the replaced ring\'s records are not delivered');
  await second.kill();
});

await captureTest('persist off: nothing is pinned', async (t) => {
  const before = new Set(readdirSync('/sys/fs/bpf'));
  const c = child(t, '', []);
  const r = await c.ready;
  t.is(r.persist.state, 'off');
  t.false(r.report.some((l) => /persist|pinned/.test(l)), r.report.join('\n'));
  t.deepEqual(readdirSync('/sys/fs/bpf').filter((n) => !before.has(n) && n.startsWith('conntrail')), []);
  await c.kill();
});

await captureTest('persist: what a full ring dropped while no process ran is counted in the pinned counters and reported after adoption', async (t) => {
  const pin = pinDir(t);
  // a cgroup of our own: the cgroup rung (this host) sees only the burst; the others see the host too
  const cg = ownCgroup(t);
  const opts = { ringBytes: 4096, cgroupPath: cg, captureDns: false };
  const port = await refusedPort();
  const first = child(t, pin, [port], opts);
  const r1 = await first.ready;
  t.is(r1.persist.state, 'pinned', r1.report.join('\n'));
  await first.kill();

  const N = 2000;
  const burst = await run('/bin/sh', ['-c', `echo $$ > ${cg}/cgroup.procs && exec ${FLOOD} -a 127.0.0.1 -p ${port} -n ${N}`]);
  t.is(burst.code, 0, burst.stderr);
  const second = child(t, pin, [port], opts);
  const r2 = await second.ready;
  t.is(r2.persist.state, 'adopted', r2.report.join('\n'));
  const drops = r2.kernel.connectRingFull - r1.kernel.connectRingFull;
  t.true(drops > 0, `the 4 KiB ring overflowed while nobody read it: ${drops} dropped`);
  t.true(r2.report.some((l) => l.includes(`kernel drops since it was pinned: ${r2.kernel.connectRingFull} connect`)), r2.report.join('\n'));
  await second.waitFor('what the ring held', () => second.seen.length > 0);
  await sleep(200);
  const received = second.seen.filter((s) => s.pid === burst.pid).length;
  t.log(`generated ${N} while none ran: delivered ${received}, dropped ${drops} (${r2.report[0] ?? ''})`);
  t.true(received > 0 && received < N);
  if (r2.report[0]?.includes('probe cgroup')) t.is(received + drops, N, 'only the burst in this cgroup: each connect delivered or counted');
  await second.kill();
});
