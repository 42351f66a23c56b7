/**
 * stack/stack.sh behaviour that needs no Java, Maven or network: syntax, the
 * endpoints it exports, and status/down against an empty state directory on
 * ports nothing listens on (so a running stack is never touched).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const exec = promisify(execFile);
const script = fileURLToPath(new URL('../../stack/stack.sh', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

// the caller's own stack settings (ports, dirs) must not leak into these checks
function withoutStackEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('CONNTRAIL_STACK_')));
}

async function stack(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await exec('/bin/bash', [script, ...args], {
      env: { ...withoutStackEnv(process.env), ...extraEnv },
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function isolated(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'conntrail-stack-test-'));
  return {
    CONNTRAIL_STACK_DIR: dir,
    CONNTRAIL_STACK_CACHE: join(dir, 'cache'),
    // port 1..4: nothing listens there
    CONNTRAIL_STACK_KAFKA_PORT: '1',
    CONNTRAIL_STACK_CONTROLLER_PORT: '2',
    CONNTRAIL_STACK_REGISTRY_PORT: '3',
    CONNTRAIL_STACK_REGISTRY_MGMT_PORT: '4',
  };
}

test('stack.sh parses', async (t) => {
  const r = await exec('bash', ['-n', script]);
  t.is(r.stderr, '');
});

test('env prints the default endpoints', async (t) => {
  const r = await stack(['env']);
  t.is(r.code, 0);
  t.true(r.stdout.includes('export CONNTRAIL_KAFKA_BROKERS=127.0.0.1:9092\n'));
  t.true(r.stdout.includes('export CONNTRAIL_REGISTRY_URL=http://127.0.0.1:8081/apis/ccompat/v7\n'));
});

test('status exits non-zero and says down when nothing runs', async (t) => {
  const e = isolated();
  try {
    const r = await stack(['status'], e);
    t.is(r.code, 1);
    t.regex(r.stdout, /^kafka\s+down$/m);
    t.regex(r.stdout, /^registry\s+down$/m);
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});

test('down is fine when nothing runs, and --wipe too', async (t) => {
  const e = isolated();
  try {
    const r = await stack(['down', '--wipe'], e);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /kafka not running/);
    t.regex(r.stdout, /registry not running/);
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});

test('unknown command prints usage and exits 2', async (t) => {
  const r = await stack(['frobnicate']);
  t.is(r.code, 2);
  t.regex(r.stderr, /stack\.sh up/);
});

test('up without java fails with one clear line', async (t) => {
  const e = isolated();
  // a PATH with everything from /usr/bin and /bin except java
  const bin = join(e.CONNTRAIL_STACK_DIR!, 'bin');
  mkdirSync(bin);
  for (const d of ['/usr/bin', '/bin']) {
    for (const f of readdirSync(d)) {
      if (f === 'java') continue;
      try {
        symlinkSync(join(d, f), join(bin, f));
      } catch {
        // already linked from /usr/bin
      }
    }
  }
  try {
    const r = await stack(['up'], { ...e, PATH: bin, JAVA_HOME: '' });
    t.not(r.code, 0);
    t.regex(r.stderr.trim(), /^stack: error: java not found/);
    t.is(r.stderr.trim().split('\n').length, 1);
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});

test('env --brokers 3 prints the three nodes, on ports derived from the configured ones', async (t) => {
  const r = await stack(['env', '--brokers', '3']);
  t.is(r.code, 0, r.stderr);
  t.true(r.stdout.includes('export CONNTRAIL_KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096\n'));
  const custom = await stack(['env', '--brokers=3'], { CONNTRAIL_STACK_KAFKA_PORT: '19092', CONNTRAIL_STACK_CONTROLLER_PORT: '19093' });
  t.true(custom.stdout.includes('export CONNTRAIL_KAFKA_BROKERS=127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096\n'));
});

test('--brokers takes 1 or 3: anything else is one line and exit 2', async (t) => {
  const e = isolated();
  try {
    for (const args of [['up', '--brokers', '2'], ['env', '--brokers', 'x'], ['up', '--brokers']]) {
      const r = await stack(args, e);
      t.is(r.code, 2, args.join(' '));
      t.regex(r.stderr.trim(), /^stack: error: --brokers (must be 1 or 3|needs a value)/);
      t.is(r.stderr.trim().split('\n').length, 1);
    }
    const u = await stack(['up', '--frobnicate'], e);
    t.is(u.code, 2);
    t.regex(u.stderr, /unknown option --frobnicate/);
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});

test('up --brokers 3 refuses ports where two listeners would collide', async (t) => {
  const e: Record<string, string> = { ...isolated(), CONNTRAIL_STACK_KAFKA_PORT: '20000', CONNTRAIL_STACK_CONTROLLER_PORT: '20002' };
  try {
    const r = await stack(['up', '--brokers', '3', '--no-registry'], e);
    t.not(r.code, 0);
    t.regex(r.stderr, /port 20002 would serve two listeners/);
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});

test('a 3-broker layout: status, env and down follow it (nothing running)', async (t) => {
  const e = isolated();
  try {
    writeFileSync(join(e.CONNTRAIL_STACK_DIR!, 'layout'), 'brokers=3\nregistry=0\n');
    const s = await stack(['status'], e);
    t.is(s.code, 1);
    for (const n of [1, 2, 3]) t.regex(s.stdout, new RegExp(`^kafka-${n}\\s+down$`, 'm'));
    t.regex(s.stdout, /^controller\s+down$/m);
    t.regex(s.stdout, /^registry\s+off\b/m);
    const env = await stack(['env'], e);
    t.regex(env.stdout, /CONNTRAIL_KAFKA_BROKERS=127\.0\.0\.1:1,127\.0\.0\.1:3,127\.0\.0\.1:5\n/);
    const d = await stack(['down', '--wipe'], e);
    t.is(d.code, 0, d.stderr);
    for (const n of [1, 2, 3]) t.regex(d.stdout, new RegExp(`kafka-${n} not running`));
    t.false(existsSync(join(e.CONNTRAIL_STACK_DIR!, 'layout')), 'down --wipe forgets the layout');
  } finally {
    rmSync(e.CONNTRAIL_STACK_DIR!, { recursive: true, force: true });
  }
});
