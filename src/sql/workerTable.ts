import type { MikroORM } from '@mikro-orm/core';

/** The table where workers announce their handlers (see WorkerAnnouncement). */
export const WORKER_TABLE = 'mikro_orm_events_worker';

/**
 * The worker table's quoted name, in the schema of the ORM config (`schema`), where the event
 * tables of an app live unless an entity names another; without one, unqualified, so the
 * connection's `search_path` decides, as it does for those tables. Every worker of an app reads
 * the same config, so they all meet in the same table.
 * @internal
 */
export function workerTableName(orm: MikroORM): string {
  const platform = orm.em.getPlatform();
  const schema = orm.config.get('schema');
  return (schema ? platform.quoteIdentifier(schema) + '.' : '') + platform.quoteIdentifier(WORKER_TABLE);
}
