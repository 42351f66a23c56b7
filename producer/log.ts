// pino logger. Not on a terminal (the journal, a file, a pipe): one JSON object
// per line on stdout, the format SIEM people expect to ship. On a terminal:
// pino-pretty's human-readable lines (time, level, message, then the fields).
import { createRequire } from 'node:module';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import type { PrettyOptions } from 'pino-pretty';

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

/** pino-pretty's settings for a terminal: local time, no pid/name, fields on the same line. */
export const PRETTY_OPTIONS: PrettyOptions = {
  translateTime: 'SYS:HH:MM:ss.l',
  ignore: 'pid,hostname,name',
  singleLine: true,
  // written in this thread, as JSON is: a line is out before process.exit()
  sync: true,
};

export interface LoggerOptions {
  /** Human-readable lines (pino-pretty) instead of JSON. Default: whether stdout is a terminal. */
  pretty?: boolean;
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const opts: pino.LoggerOptions = { name: 'conntrail', level, base: { pid: process.pid } };
  if (!(options.pretty ?? process.stdout.isTTY === true)) return pino(opts);
  // loaded only for a terminal: the journal's JSON path never pays for it
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pino(opts, pretty(PRETTY_OPTIONS));
}
