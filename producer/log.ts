// pino logger: one JSON object per line on stdout, the format SIEM people expect to ship.
import pino from 'pino';

export type Logger = pino.Logger;

/** log.level: pino's levels. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(level: string): Logger {
  return pino({ name: 'conntrail', level, base: { pid: process.pid } });
}
