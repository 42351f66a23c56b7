// Named errors of the schema registry side. `userFacing` lets the CLI print the
// message as one line, without a stack.

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly userFacing = true;
  /** HTTP status, when the registry answered. */
  readonly status: number | undefined;
  /** Confluent error_code (e.g. 40401 subject not found), when given. */
  readonly errorCode: number | undefined;
  constructor(message: string, opts: { status?: number; errorCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.errorCode = opts.errorCode;
  }
}

/** The registry did not answer (connection refused, timeout, 5xx) for registry.startupRetryMs. */
export class RegistryUnavailableError extends RegistryError {
  override name = 'RegistryUnavailableError';
  readonly url: string;
  constructor(url: string, waitedMs: number, cause: unknown) {
    const why = (cause as Error)?.message ?? String(cause);
    super(`schema registry unreachable at ${url} (retried for ${Math.round(waitedMs / 1000)}s, registry.startupRetryMs): ${why}`, { cause });
    this.url = url;
  }
}

/** The bundled schema is not compatible with what is registered under the subject. */
export class SchemaIncompatibleError extends RegistryError {
  override name = 'SchemaIncompatibleError';
  readonly subject: string;
  /** Versions registered under the subject. */
  readonly versions: readonly number[];
  /** Why, from the registry when it says, else computed locally with avsc (marked so). */
  readonly reasons: readonly string[];
  /** The subject's compatibility level, when known. */
  readonly compatibility: string | undefined;
  constructor(subject: string, versions: readonly number[], reasons: readonly string[], opts: { compatibility?: string; what?: string; status?: number } = {}) {
    const level = opts.compatibility ? ` (compatibility ${opts.compatibility})` : '';
    const vs = versions.length > 0 ? `versions ${versions.join(', ')}` : 'no versions';
    super(`${opts.what ?? 'schema io.conntrail.NetTCPConnect is incompatible'} with subject "${subject}"${level}, ${vs}: ${reasons.join('; ') || 'no reason given'}`,
      opts.status === undefined ? {} : { status: opts.status });
    this.subject = subject;
    this.versions = versions;
    this.reasons = reasons;
    this.compatibility = opts.compatibility;
  }
}

/** registry.mode=latest and nothing is registered under the subject. */
export class SubjectNotFoundError extends RegistryError {
  override name = 'SubjectNotFoundError';
  readonly subject: string;
  constructor(subject: string, url: string) {
    super(`no schema is registered under subject "${subject}" at ${url} (registry.mode=latest): register it first (conntrail schema register) or use registry.mode=auto-register`, { status: 404, errorCode: 40401 });
    this.subject = subject;
  }
}
