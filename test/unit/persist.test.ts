// capture.persist's decisions, without a kernel: when a pinned capture is
// adopted or replaced (and the reason given), and the attach report's lines.
import test from 'ava';
import { pinnedIncompatibility, persistReport, type KernelCounters, type RecordLayout } from 'bpf-native-loader';

const layout = { version: 3, pinMagic: 0x6e707463 } as RecordLayout;
const tag = { magic: 0x6e707463, version: 3, probe: 'fentry', ringBytes: 8 << 20, dns: true, cookies: false, outcome: true, connectExit: true, exec: true };
const want = { ladder: ['lsm', 'fentry', 'kprobe'] as const, ringBytes: 8 << 20 };
const kernel: KernelCounters = { connectRingFull: 7, dnsRingFull: 2, dnsReadError: 0, connectSeen: 0, dnsSeen: 0, excludedSelf: 0, excludedPort: 0, excludedCidr: 0, outcomeRingFull: 0, outcomeSeen: 0, execRingFull: 0, execSeen: 0, outcomeExcluded: 0 };

test('a pinned capture with this layout, a probe in the ladder and the configured ring is adopted', (t) => {
  t.is(pinnedIncompatibility({ tag }, want, layout), undefined);
});

test('anything else is replaced, with the reason', (t) => {
  t.is(pinnedIncompatibility({ tag: { ...tag, version: 2 } }, want, layout), "record layout v2, this conntrail's is v3");
  t.is(pinnedIncompatibility({ tag: { ...tag, magic: 1 } }, want, layout), "its tag is not conntrail's");
  t.is(pinnedIncompatibility({ tag: { ...tag, probe: 'cgroup' } }, want, layout), 'its probe cgroup is not in the ladder (lsm, fentry, kprobe)');
  t.is(pinnedIncompatibility({ tag: { ...tag, ringBytes: 4096 } }, want, layout), `its ring has 4096 bytes, ${8 << 20} configured`);
  t.is(pinnedIncompatibility({ errno: 2 }, want, layout), 'no tag: pinned only in part');
  t.is(pinnedIncompatibility({ errno: 71 }, want, layout), 'its tag has another shape: another conntrail version');
  t.is(pinnedIncompatibility({ errno: 13 }, want, layout), 'its tag cannot be read: EACCES');
});

test('the report says what persist did, in one line each', (t) => {
  const pinPath = '/sys/fs/bpf/x';
  t.deepEqual(persistReport({ state: 'off' }, 'lsm', kernel), []);
  t.deepEqual(persistReport({ state: 'pinned', pinPath }, 'lsm', kernel),
    ['conntrail capture: persisted at /sys/fs/bpf/x: capture goes on while no conntrail runs (conntrail detach removes it)']);
  t.deepEqual(persistReport({ state: 'adopted', pinPath }, 'fentry', kernel),
    ['conntrail capture: adopted the fentry capture pinned at /sys/fs/bpf/x: the connects it captured while no conntrail ran come first; kernel drops since it was pinned: 7 connect, 2 DNS']);
  const replaced = { reason: 'record layout v2, this conntrail\'s is v3', removed: 10, records: 12, bytes: 1440, counted: true };
  t.deepEqual(persistReport({ state: 'pinned', pinPath, replaced }, 'lsm', kernel)[0],
    "conntrail capture: replaced the instance pinned at /sys/fs/bpf/x (record layout v2, this conntrail's is v3): 12 records (1440 bytes) left in its ring could not be drained and are dropped");
  t.regex(persistReport({ state: 'failed', pinPath, error: 'pin kprobe link at /sys/fs/bpf/x/link_kprobe_0: EINVAL' }, 'kprobe', kernel)[0] ?? '',
    /^conntrail capture: NOT persisted \(capture stops with this process\): pin kprobe link at .*: EINVAL$/);
});
