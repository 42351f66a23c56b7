// pino logger: one JSON object per line on stdout, the format SIEM people expect to ship.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ name: 'conntrail', level, base: { pid: process.pid } });
}
