// Enriched NetTCPConnect records from the synthetic capture stream (decoded and
// enriched as the pipeline does), for the in-process sections (encoding, spool).
import os from 'node:os';
import { clockOffsetNs } from 'bpf-native-loader';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { BatchStep } from '../../producer/source/batch.ts';
import { RecordDecoder } from '../../producer/source/decode.ts';
import { ProcessContextCache } from '../../producer/source/process-context.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import { readHostIdentity } from '../../producer/transform/host-identity.ts';
import { buildSyntheticInput } from './frames.ts';

export function enrichedRecords(connects: number, seed: number): NetTCPConnect[] {
  const input = buildSyntheticInput({ connects, seed });
  const step = new BatchStep(new RecordDecoder({ wallOffsetNs: clockOffsetNs() }), new ProcessContextCache());
  const enricher = new Enricher({ host: readHostIdentity({ name: os.hostname() }) });
  const records: NetTCPConnect[] = [];
  for (const b of input.batches) enricher.process(step.run(b), records);
  return records;
}
