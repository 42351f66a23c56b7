// The schema registry side: subjects, writer schema resolution, register/check/list.
export {
  subjectName, subjectOf, registryUrl, restClient, kafkajsRegistryClient, waitForRegistry,
  resolveWriterSchema, clearSchemaCache, writerProblems,
  registerSchema, checkSchema, assertCompatible, listSchemaVersions,
  SUBJECT_STRATEGIES, SCHEMA_MODES,
} from './schema.ts';
export type {
  RegistrySection, SubjectStrategy, SchemaMode, SchemaTarget, ResolvedSchema, ResolveOptions,
  RegisterResult, CheckResult, ListResult, ListedVersion,
} from './schema.ts';
export { RegistryRest, RegistryConnectError, isNotFound, isUnavailable } from './rest.ts';
export type { RegistryRestOptions, SubjectVersion, CompatibilityAnswer } from './rest.ts';
export { RegistryError, RegistryUnavailableError, SchemaIncompatibleError, SubjectNotFoundError } from './errors.ts';
