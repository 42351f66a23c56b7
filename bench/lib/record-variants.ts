// What NetTCPConnect v2 costs the running pipeline (issue 12): the ceiling and
// live workers run with one of these record variants, each a configuration a
// user can run, so that v2 and v1 are measured in the same rounds.
//
//   v2             the shipped defaults: the whole v2 record.
//   v1             what the v1 record needed, and no more: the registry in latest
//                  mode with the v1 schema (schemas/history) as the subject's
//                  latest version, so conntrail writes v1 (as a fleet whose
//                  registry has not moved to v2 yet); no outcome join and no
//                  outcome probes; no exec capture, argv, ancestors or account
//                  names.
//   v2-no-outcome  v2 without its outcome part (enrich.outcomeWaitMs 0: no join,
//                  no outcome probes, no outcome records in the synthetic input).
//   v2-no-process  v2 without its process part (no exec capture, argv, ancestors
//                  or account names).
//
// v2 - v2-no-outcome is the outcome part's cost, v2 - v2-no-process the process
// part's; v1 also writes fewer fields (see the encoding section for the bytes).
import { readFileSync } from 'node:fs';
import type { ConntrailConfig } from '../../producer/config/load.ts';
import { registerSchema, restClient, subjectOf } from '../../producer/registry/schema.ts';
import type { DeepPartial } from './pipeline.ts';

export const RECORD_VARIANTS = ['v2', 'v1', 'v2-no-outcome', 'v2-no-process'] as const;
export type RecordVariant = (typeof RECORD_VARIANTS)[number];

/** How each variant reads in the report. */
export const RECORD_VARIANT_LABELS: Record<RecordVariant, string> = {
  v2: 'v2 (default config)',
  v1: 'v1 record: v1 schema latest in the registry, outcome join, exec capture, argv, ancestors and account names off',
  'v2-no-outcome': 'v2 without the outcome part (enrich.outcomeWaitMs 0: no join, no outcome probes or records)',
  'v2-no-process': 'v2 without the process part (capture.exec false, maxArgs, maxArgBytes and maxAncestors 0, no account files)',
};

const V1_SCHEMA_TEXT = readFileSync(new URL('../../schemas/history/NetTCPConnect.v1.avsc', import.meta.url), 'utf8');

const NO_OUTCOME: DeepPartial<ConntrailConfig> = { enrich: { outcomeWaitMs: 0 } };
const NO_PROCESS: DeepPartial<ConntrailConfig> = {
  capture: { exec: false },
  enrich: { process: { maxArgs: 0, maxArgBytes: 0, maxAncestors: 0 }, accounts: { passwdFile: '', groupFile: '' } },
};

/** Config overrides of a variant (laid over the bench's own). */
export function recordVariantConfig(v: RecordVariant): DeepPartial<ConntrailConfig> {
  switch (v) {
    case 'v2': return {};
    case 'v2-no-outcome': return NO_OUTCOME;
    case 'v2-no-process': return NO_PROCESS;
    case 'v1': return {
      capture: NO_PROCESS.capture!,
      enrich: { ...NO_PROCESS.enrich, outcomeWaitMs: 0 },
      registry: { mode: 'latest' },
    };
  }
}

/** Whether the synthetic input carries an outcome record per connect (as the kernel's outcome probe makes one). */
export function variantHasOutcomes(v: RecordVariant): boolean {
  return v === 'v2' || v === 'v2-no-process';
}

/**
 * Readies the registry for a variant before its pipeline starts: for v1, the
 * topic's subject is emptied and given the v1 schema, so latest mode writes v1.
 */
export async function prepareRecordVariant(v: RecordVariant, cfg: ConntrailConfig): Promise<void> {
  if (v !== 'v1') return;
  const target = { registry: cfg.registry, topic: cfg.kafka.topic };
  await restClient(cfg.registry).deleteSubject(subjectOf(target), true);
  await registerSchema(target, { schemaText: V1_SCHEMA_TEXT });
}
