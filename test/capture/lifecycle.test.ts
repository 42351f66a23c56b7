// Clean exit: stop() detaches everything, and once the process is gone no
// program or map of ours stays loaded (checked with bpftool).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NODE, captureTest, sh, sleep } from './support.ts';

const HOLD = fileURLToPath(new URL('./fixtures/hold-capture.ts', import.meta.url));

interface Listed { id: number; name?: string }

function loaded(kind: 'prog' | 'map'): Listed[] {
  return JSON.parse(sh('bpftool', [kind, 'show', '-j'])) as Listed[];
}

/** Polls bpftool until none of `ids` is listed (the kernel frees programs after an RCU grace period). */
async function gone(kind: 'prog' | 'map', ids: number[], timeoutMs = 5000): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = loaded(kind).filter((p) => ids.includes(p.id)).map((p) => p.id);
    if (left.length === 0 || Date.now() > end) return left;
    await sleep(50);
  }
}

function holder(): { send(line: string): void; next(): Promise<Record<string, unknown>>; exited: Promise<number | null> } {
  const child = spawn(NODE, [HOLD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    send: (line) => child.stdin.write(line + '\n'),
    next: async () => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>,
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
}

await captureTest('stop() detaches and unloads every program; nothing of ours survives the process', async (t) => {
  const h = holder();
  const ready = await h.next();
  const ids = ready.ids as { programs: number[]; maps: number[] };
  t.true(ids.programs.length >= 2, `programs ${ids.programs.join(',')}`);
  const progs = loaded('prog').filter((p) => ids.programs.includes(p.id));
  t.is(progs.length, ids.programs.length, 'bpftool lists them while running');
  t.true(progs.every((p) => p.name?.startsWith('ct_')), progs.map((p) => p.name).join(','));

  h.send('stop');
  const stopped = await h.next();
  t.deepEqual((stopped.ids as { programs: number[] }).programs, []);
  t.deepEqual(await gone('prog', ids.programs), [], 'no program left after stop(), process still alive');
  t.deepEqual(await gone('map', ids.maps), [], 'no map left after stop()');
  h.send('exit');
  t.is(await h.exited, 0);
});

await captureTest('a process that exits without stop() leaves nothing loaded', async (t) => {
  const h = holder();
  const ready = await h.next();
  const ids = ready.ids as { programs: number[]; maps: number[] };
  t.true(ids.programs.length >= 2);
  h.send('exit');
  t.is(await h.exited, 0);
  t.deepEqual(await gone('prog', ids.programs), []);
  t.deepEqual(await gone('map', ids.maps), []);
});
