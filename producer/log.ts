// pino logger: one JSON object per line on stdout, the format SIEM people expect to ship.
import pino from 'pino';

export type Logger = pino.Logger;

/** log.level: pino's levels. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/**
 * The logger every stage accepts: any pino-compatible object (a pino Logger,
 * a test's recorder). Stages default to silentLogger.
 */
export interface LoggerLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: LoggerLike = { debug: noop, info: noop, warn: noop, error: noop };

export function createLogger(level: string): Logger {
  return pino({ name: 'conntrail', level, base: { pid: process.pid } });
}
