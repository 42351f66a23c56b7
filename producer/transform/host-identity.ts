// Host identity written into every NetTCPConnect record: read once at startup.
import { readFileSync } from 'node:fs';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';

export type HostIdentity = NetTCPConnect['host'];

export interface HostIdentityOptions {
  /** Host name (config host.name). */
  name: string;
  /** Default /etc/machine-id. */
  machineIdPath?: string;
  /** Default /proc/sys/kernel/random/boot_id. */
  bootIdPath?: string;
}

/** Trimmed content of a file, '' when it cannot be read. */
function readId(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The host identity: name from options, machine id ('' if the host has none), kernel boot id. Frozen. */
export function readHostIdentity(opts: HostIdentityOptions): HostIdentity {
  return Object.freeze({
    name: opts.name,
    machineId: readId(opts.machineIdPath ?? '/etc/machine-id'),
    bootId: readId(opts.bootIdPath ?? '/proc/sys/kernel/random/boot_id'),
  });
}
