/** The metadata database (SQLite, WAL) and its migration mechanism; namespaces. */
export { MetadataDB, type Migration, type Database } from './db';
export { DEFAULT_NAMESPACE, LEGACY_NAMESPACE, MOBY_NAMESPACE, validateNamespace } from './namespaces';
