// Example records: used to check at startup that a registered writer schema can
// encode what conntrail produces, and by tests and benchmarks.
import type { NetTCPConnect } from './net-tcp-connect.ts';

/** A fully populated record (every nullable field set). */
export function sampleRecord(overrides: Partial<NetTCPConnect> = {}): NetTCPConnect {
  return {
    eventId: '6f1c2a4e-8b1d-4f7a-9c3e-2d5b7a9e1f00',
    eventName: 'NetTCPConnect',
    timestamp: 1_735_787_045_123_456,
    host: { name: 'web-1', machineId: '0123456789abcdef0123456789abcdef', bootId: 'f0e1d2c3-b4a5-4697-8877-665544332211' },
    process: {
      pid: 4242,
      tid: 4243,
      ppid: 1,
      uid: 1000,
      gid: 1000,
      comm: 'curl',
      exe: '/usr/bin/curl',
      cgroupId: 12345,
      containerId: null,
    },
    netnsCookie: 4096,
    dstIP: '93.184.215.14',
    dstPort: 443,
    family: 'AF_INET',
    results: ['example.com'],
    probe: 'cgroup',
    ...overrides,
  };
}

/** A record with every nullable field null and no DNS names. */
export function sparseRecord(): NetTCPConnect {
  const r = sampleRecord({ results: [], dstIP: '2001:db8::1', family: 'AF_INET6' });
  return { ...r, host: { ...r.host, machineId: '' }, process: { ...r.process, ppid: null, exe: null, containerId: null } };
}
