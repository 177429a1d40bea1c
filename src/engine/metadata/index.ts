/** The metadata database (SQLite, WAL) and its migration mechanism. */
export { MetadataDB, type Migration, type Database } from './db';
