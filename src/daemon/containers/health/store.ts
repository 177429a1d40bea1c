/**
 * The health state of each container, in the metadata database (one row per container of
 * the Docker front end's namespace), so that `State.Health` survives a daemon restart.
 */
import { MOBY_NAMESPACE, type Database, type MetadataDB, type Migration } from '../../../engine/metadata';
import type { HealthState, HealthStateStore } from './health';

export const healthMigrations: Migration[] = [
  {
    id: 'containers/health/001-create',
    up(db: Database) {
      db.exec(`CREATE TABLE container_health (
        namespace TEXT NOT NULL,
        id TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT`);
    },
  },
];

export class SqlHealthStore implements HealthStateStore {
  constructor(
    private readonly db: MetadataDB,
    private readonly namespace = MOBY_NAMESPACE,
  ) {
    db.migrate(healthMigrations);
  }

  load(): Map<string, HealthState> {
    const rows = this.db.raw.prepare('SELECT id, state FROM container_health WHERE namespace = ?').all(this.namespace) as Array<{ id: string; state: string }>;
    return new Map(rows.map((r) => [r.id, JSON.parse(r.state) as HealthState]));
  }

  save(id: string, h: HealthState): void {
    this.db.tx((raw) => {
      raw.prepare('INSERT INTO container_health (namespace, id, state) VALUES (?, ?, ?) ON CONFLICT (namespace, id) DO UPDATE SET state = excluded.state').run(this.namespace, id, JSON.stringify(h));
    });
  }

  remove(id: string): void {
    this.db.tx((raw) => {
      raw.prepare('DELETE FROM container_health WHERE namespace = ? AND id = ?').run(this.namespace, id);
    });
  }
}
