// The /proc status reading behind the privilege drop's report and tests.
import test from 'ava';
import { CAPABILITIES } from 'bpf-native-loader';
import { capabilityNames, parseStatus } from '../../producer/privileges.ts';

const KEPT = (1n << BigInt(CAPABILITIES.bpf)) | (1n << BigInt(CAPABILITIES.sys_ptrace));

test('privileges: parseStatus reads a /proc status', (t) => {
  const status = 'Name:\tnode\nUid:\t0\t65534\t65534\t65534\nGid:\t0\t65534\t65534\t65534\nCapPrm:\t0000008000080000\nCapEff:\t0000008000080000\nCapBnd:\t0000008000080000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n';
  const c = parseStatus(7, status);
  t.like(c, { tid: 7, name: 'node', uid: 65534, gid: 65534, capEff: KEPT, capBnd: KEPT, capAmb: 0n, noNewPrivs: true });
  t.deepEqual(capabilityNames(c.capEff), ['sys_ptrace', 'bpf']);
});
