// The logger the publishing code accepts: any pino-compatible object.
export interface SinkLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};
export const silentLogger: SinkLogger = { debug: noop, info: noop, warn: noop, error: noop };
