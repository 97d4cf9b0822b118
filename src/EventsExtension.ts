import type { EventSubscriber, MetadataStorage, MikroORM } from '@mikro-orm/core';
import { resolveEventsConfig } from './config';
import { AutoEmitSubscriber } from './emit/AutoEmitSubscriber';
import { EmissionRules } from './emit/EmissionRules';
import { EventsError } from './EventsError';
import { WORKER_TABLE } from './sql/workerTable';

/**
 * The MikroORM extension of mikro-orm-events. Add it to `extensions` in the config:
 *
 * ```ts
 * defineConfig({ extensions: [EventsExtension], events: { autoEmit: [...] } })
 * ```
 *
 * At `MikroORM.init()` it checks the `events.autoEmit` rules against the entities (a typed
 * `EventsError` on a mistake) and subscribes to flushes: matching changes emit their events in
 * the same transaction, and every transaction that writes events, auto-emitted or created by
 * hand, sends one wake-up notification on commit. It also keeps the workers' own table,
 * `mikro_orm_events_worker`, out of the schema generator's diffs.
 *
 * Rules need MikroORM's `implicitTransactions` (the default): without it, a flush outside
 * `em.transactional()` has no transaction for the events to share, and no flush event lets a
 * subscriber open one around the entities' writes and still roll it back when they fail. So
 * init refuses that combination rather than lose the atomicity silently.
 */
export class EventsExtension {
  static register(orm: MikroORM): void {
    const subscriber = (metadata: MetadataStorage) => {
      let rules: EmissionRules;
      let preparedStatements: boolean;
      try {
        const config = resolveEventsConfig(orm.config);
        rules = new EmissionRules(metadata, config.autoEmit);
        preparedStatements = config.preparedStatements;
        if (!rules.isEmpty && !orm.config.get('implicitTransactions')) {
          throw EventsError.autoEmitWithoutImplicitTransactions();
        }
      } catch (error) {
        // init() fails with this error, and nobody gets the ORM to close: release its connections
        // here, or they would keep the process alive.
        orm.close(true).catch(() => undefined);
        throw error;
      }
      return new AutoEmitSubscriber(rules, { preparedStatements });
    };
    if (orm.em) {
      orm.em.getEventManager().registerSubscriber(subscriber(orm.getMetadata()));
    } else {
      // MikroORM 7 registers extensions before discovery and before it makes the EntityManager:
      // the rules are checked once the entities are discovered, and the subscriber joins the
      // config's, which every EntityManager's event manager starts with.
      const discovery = orm.config.get('discovery');
      const previous = discovery.afterDiscovered;
      discovery.afterDiscovered = async (storage, platform) => {
        await previous?.(storage, platform);
        const subscribers: Iterable<EventSubscriber> = orm.config.get('subscribers');
        orm.config.set('subscribers', [...subscribers, subscriber(storage)]);
      };
    }
    // Workers create their announcement table themselves (see WorkerAnnouncement): keep it out
    // of schema diffs, or `schema:update` and `migration:create` would drop it.
    // The schema generator was made before extensions register, with the config's object of
    // options: change that object (each ORM config has its own), with a new array.
    const generator = orm.config.get('schemaGenerator');
    generator.skipTables = [...(generator.skipTables ?? []), WORKER_TABLE];
  }
}
