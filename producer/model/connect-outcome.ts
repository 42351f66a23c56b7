// What became of a connect(): the vocabulary of NetTCPConnect.outcome, defined
// once here (the join in transform/outcome.ts sets it, the ECS encoder maps it).

/**
 * established: the handshake completed; refused: RST to the SYN (ECONNREFUSED);
 * reset: reset while connecting (ECONNRESET); timeout: the SYN retransmits ran
 * out (ETIMEDOUT); unreachable: no route, or ICMP unreachable (EHOSTUNREACH,
 * ENETUNREACH); error: any other failure (errno says which, null when the
 * socket closed with none, e.g. the application closed it while connecting);
 * in_progress: no outcome within enrich.outcomeWaitMs.
 */
export const CONNECT_OUTCOMES = ['established', 'refused', 'reset', 'timeout', 'unreachable', 'in_progress', 'error'] as const;
export type ConnectOutcome = (typeof CONNECT_OUTCOMES)[number];

/** ECS event.outcome (only success, failure, unknown) of each outcome. */
export function ecsEventOutcome(o: string): 'success' | 'failure' | 'unknown' {
  if (o === 'established') return 'success';
  if (o === 'in_progress') return 'unknown';
  return 'failure';
}
