import {
  type ChangeSet,
  ChangeSetType,
  type EntityMetadata,
  type EventSubscriber,
  type FlushEventArgs,
  helper,
  Reference,
  ReferenceKind,
  type TransactionEventArgs,
  type UnitOfWork,
  Utils,
} from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { assertEventData } from '../model/assertEventData';
import { EventModel, IDEMPOTENCY_KEY_LENGTH } from '../model/EventModel';
import { withoutLoneSurrogates } from '../model/storableText';
import { type EventColumn, EventTable } from '../sql/EventTable';
import type { AutoEmitDefinition, EmitRule } from './autoEmit';
import { linkProperties } from '../model/eventLinks';
import { EmissionRules, ruleMatches } from './EmissionRules';
import { CREATED, type EntityChange, entityChange } from './EntityChange';
import { type InsertColumn, insertEvents, notifyNewEvents } from './insertEvents';
import { activeTraceparent } from '../tracing/traceparent';

// Read once, at load: compiled code reads each `@mikro-orm/core` import through the package
// index's re-export getters, which the loops over a flush's entities would pay at every use.
const { CREATE, DELETE, DELETE_EARLY } = ChangeSetType;
const { SCALAR } = ReferenceKind;
const core = { Reference, Utils, helper };

/**
 * The rules that matched changes in a flush for one event table, waiting for the entities' rows
 * to be written: row r is `rules[r]` applied to `entities[r]`. Kept as parallel arrays, filled as
 * `onFlush` walks the change sets, so a flush of many entities allocates nothing per entity but
 * the array slots (the change itself is shared by all creates, see CREATED).
 */
interface TableEmissions {
  writer: TableWriter;
  definitions: AutoEmitDefinition[];
  rules: EmitRule<any, any>[];
  entities: object[];
  changes: EntityChange<any>[];
}

/** What a flush has to write after the unit of work has written the entities. */
interface PendingFlush {
  /** By event table, in the order of the flush's first emission into each. */
  tables: Map<TableWriter, TableEmissions>;
  /** Entities the flush deletes: links to them are stored as NULL. */
  deleted: Set<object>;
  /** The trace context of the span that flushed, if any: stored with each emitted event. */
  traceparent: string | null;
}

/** How to write one event table's rows. */
interface TableWriter {
  table: EventTable;
  columns: InsertColumn[];
  /** `columns` and the traceparent's, for flushes in a span. */
  tracedColumns: InsertColumn[];
  /** Link property name → the index of its first column in `columns` (one per field name). */
  links: Map<string, { prop: EntityMetadata<EventModel>['props'][number]; first: number }>;
  idempotencyKeyLength: number;
}

/**
 * Applies the auto-emission rules on flush and sends the wake-up notification, so that events
 * are written by the same flush, in the same transaction, as the changes that caused them.
 *
 * `onFlush` sees the change sets (with the values before the change) and picks the rules that
 * match. The rows are written once the unit of work has written the entities (so new entities
 * have their primary keys), still inside the flush's transaction:
 * - a flush outside a transaction runs in an implicit one, whose `beforeTransactionCommit` the
 *   subscriber uses (with MikroORM's `implicitTransactions: false` there is none, and a flush
 *   outside a transaction that would write events is refused);
 * - a flush inside `em.transactional()` (or `begin()`) writes in `afterFlush`, in the caller's
 *   transaction or savepoint, so a rollback takes the events with it.
 * @internal
 */
export class AutoEmitSubscriber implements EventSubscriber {
  private readonly pending = new WeakMap<UnitOfWork, PendingFlush>();
  private readonly writers = new Map<EntityMetadata<EventModel>, TableWriter>();
  private readonly byDefinition = new Map<AutoEmitDefinition, TableWriter>();
  /** Rules whose fixed values (type, priority, a fixed runAt) have been checked. */
  private readonly checkedRules = new WeakSet<EmitRule<any, any>>();

  /** Whether the events INSERT runs as a named prepared statement (see insertEvents). */
  private readonly named: boolean;

  constructor(
    private readonly rules: EmissionRules,
    { preparedStatements = true }: { preparedStatements?: boolean } = {},
  ) {
    this.named = preparedStatements;
  }

  /**
   * Checks events created by hand before MikroORM computes anything from them (it serialises
   * JSON properties while computing change sets): a bad one fails the flush whole, with a typed
   * error, before any statement is sent.
   */
  beforeFlush({ uow }: FlushEventArgs): void {
    for (const entity of uow.getPersistStack()) {
      if (entity instanceof EventModel) {
        assertEventData(entity, {
          bigints: 'refuse',
          nullMeansDefault: false,
          idempotencyKeyLength: idempotencyKeyLength(helper(entity).__meta),
        });
      }
    }
  }

  onFlush({ em, uow }: FlushEventArgs): void {
    this.pending.delete(uow);
    const tables = new Map<TableWriter, TableEmissions>();
    const deleted = new Set<object>();
    let created: ChangeSet<EventModel>[] | undefined;
    // The emissions of the last definition seen: a flush's change sets mostly come grouped by
    // class, so the table lookups are made once per run of them, not once per entity.
    let lastDefinition: AutoEmitDefinition | undefined;
    let lastTable: TableEmissions | undefined;
    for (const changeSet of uow.getChangeSets()) {
      const type = changeSet.type;
      const deleting = type === DELETE || type === DELETE_EARLY;
      if (deleting) {
        deleted.add(changeSet.entity);
      }
      if (type === CREATE && changeSet.entity instanceof EventModel) {
        (created ??= []).push(changeSet as ChangeSet<any>);
      }
      const rules = this.rules.for(changeSet.meta);
      // A change of a kind no rule of its class watches is not described at all (an update's
      // diff, a delete's snapshot cost a walk over the entity's properties).
      if (!(type === CREATE ? rules.create : deleting ? rules.delete : rules.update)) {
        continue;
      }
      const change = entityChange(changeSet);
      if (!change) {
        continue;
      }
      for (const definition of rules.definitions) {
        for (const rule of definition.rules) {
          if (ruleMatches(rule, changeSet.entity, change)) {
            let table = definition === lastDefinition ? lastTable : undefined;
            if (!table) {
              const writer = this.writer(em, definition);
              table = tables.get(writer);
              if (!table) {
                table = { writer, definitions: [], rules: [], entities: [], changes: [] };
                tables.set(writer, table);
              }
              lastDefinition = definition;
              lastTable = table;
            }
            table.definitions.push(definition);
            table.rules.push(rule);
            table.entities.push(changeSet.entity);
            table.changes.push(change);
          }
        }
      }
    }
    if (tables.size === 0 && !created) {
      return;
    }
    // Without implicit transactions, MikroORM writes a flush outside a transaction statement by
    // statement, each committed on its own: events would not share the fate of the changes they
    // describe. Refused here, before any statement is sent. (Init already refuses rules with that
    // setting; this catches events created by hand.)
    if (!em.isInTransaction() && !em.config.get('implicitTransactions')) {
      throw EventsError.eventsOutsideTransaction();
    }
    // The span that flushes, read here: the flush runs in the caller's async context.
    const traceparent = activeTraceparent();
    if (traceparent) {
      for (const changeSet of created ?? []) {
        // One set before the flush is kept: an inbox sets the sender's.
        if (changeSet.entity.traceparent === undefined) {
          changeSet.entity.traceparent = traceparent;
          changeSet.payload.traceparent = traceparent;
        }
      }
    }
    this.pending.set(uow, { tables, deleted, traceparent });
  }

  // The two hooks below hand on the promise of the writes rather than await it: one async
  // frame less per flush, the same outcome for MikroORM, which awaits what they return.

  /** A flush outside a transaction: its implicit transaction is about to commit. */
  beforeTransactionCommit({ em, uow, transaction }: TransactionEventArgs): Promise<void> | undefined {
    const pending = uow && this.pending.get(uow);
    if (pending) {
      this.pending.delete(uow);
      return this.write(em, transaction, pending);
    }
    return undefined;
  }

  /** A flush inside a transaction: the entities are written, the transaction is still open. */
  afterFlush({ em, uow }: FlushEventArgs): Promise<void> | undefined {
    const pending = this.pending.get(uow);
    if (pending) {
      this.pending.delete(uow);
      return this.write(em, em.getTransactionContext(), pending);
    }
    return undefined;
  }

  private async write(em: FlushEventArgs['em'], trx: unknown, pending: PendingFlush): Promise<void> {
    if (pending.tables.size === 0) {
      // Only events created by hand: the unit of work wrote them; wake the workers.
      await notifyNewEvents(em, trx);
      return;
    }
    // Every row is built (and checked) before any is sent: a bad value fails the flush whole.
    const tables = [...pending.tables.values()].map(emissions => {
      const { writer } = emissions;
      const rowCount = emissions.entities.length;
      // The column is named only when there is a value for it, so that an app that traces
      // nothing does not need it.
      const columns = pending.traceparent ? writer.tracedColumns : writer.columns;
      const values = columns.map(() => new Array<unknown>(rowCount));
      let checked: EmitRule<any, any> | undefined;
      for (let row = 0; row < rowCount; row++) {
        const rule = emissions.rules[row];
        if (rule !== checked) {
          this.checkRule(writer, rule);
          checked = rule;
        }
        this.fill(writer, emissions, row, pending.deleted, values);
      }
      if (pending.traceparent) {
        values[columns.length - 1].fill(pending.traceparent);
      }
      return { writer, columns, values, rowCount };
    });
    for (const { writer, columns, values, rowCount } of tables) {
      await insertEvents(em, trx, writer.table, columns, values, rowCount, this.named);
    }
  }

  /** What a rule fixes is the same for each of its events: checked once, at its first event. */
  private checkRule(writer: TableWriter, rule: EmitRule<any, any>): void {
    if (!this.checkedRules.has(rule)) {
      assertEventData(
        {
          type: rule.type,
          priority: rule.priority,
          runAt: typeof rule.runAt === 'function' ? undefined : rule.runAt,
        },
        { bigints: 'decimal', nullMeansDefault: true, idempotencyKeyLength: writer.idempotencyKeyLength },
      );
      this.checkedRules.add(rule);
    }
  }

  /** Writes row `row` of `emissions` into `values` (column by column, as the writer's columns). */
  private fill(
    writer: TableWriter,
    emissions: TableEmissions,
    row: number,
    deleted: Set<object>,
    values: unknown[][],
  ): void {
    const rule = emissions.rules[row];
    const entity = emissions.entities[row];
    const change = emissions.changes[row];
    // A create under a rule without builders (the common case) has nothing to build or check.
    const fixed =
      change === CREATED && !rule.parameters && !rule.idempotencyKey && typeof rule.runAt !== 'function';
    const parameters = fixed
      ? undefined
      : rule.parameters
        ? rule.parameters(entity, change)
        : defaultParameters(change);
    const runAt = typeof rule.runAt === 'function' ? rule.runAt(entity, change) : rule.runAt;
    const idempotencyKey = fixed ? undefined : (rule.idempotencyKey?.(entity, change) ?? undefined);
    if (parameters !== undefined || typeof rule.runAt === 'function' || idempotencyKey !== undefined) {
      // Checked before any row is sent: the flush fails with a typed error, not a driver error.
      assertEventData(
        { type: rule.type, parameters, priority: rule.priority, runAt, idempotencyKey },
        { bigints: 'decimal', nullMeansDefault: true, idempotencyKeyLength: writer.idempotencyKeyLength },
      );
    }
    // Unset values take the column's fallback.
    values[0][row] = rule.type;
    values[1][row] = parameters;
    values[2][row] = rule.priority;
    values[3][row] = runAt?.toISOString();
    values[4][row] = idempotencyKey;
    const link = emissions.definitions[row].link(entity) as Record<string, unknown> | null | undefined;
    for (const name in link) {
      if (!Object.hasOwn(link, name)) {
        continue;
      }
      const target = writer.links.get(name);
      if (!target) {
        throw EventsError.invalidLink(writer.table.meta.className, name);
      }
      linkValues(target.prop, link[name], deleted, values, target.first, row);
    }
  }

  /** The columns of an event table that emissions fill, worked out once per table. */
  private writer(em: FlushEventArgs['em'], definition: AutoEmitDefinition): TableWriter {
    let writer = this.byDefinition.get(definition);
    if (writer) {
      return writer;
    }
    const meta = this.rules.eventMeta(definition);
    writer = this.writers.get(meta);
    if (writer) {
      this.byDefinition.set(definition, writer);
      return writer;
    }
    const table = new EventTable(meta, em);
    const c = (property: EventColumn) => table.columnName(property);
    const columns: InsertColumn[] = [
      { name: c('type'), sqlType: 'text' },
      { name: c('parameters'), sqlType: 'jsonb', fallback: `'{}'::jsonb` },
      { name: c('priority'), sqlType: 'smallint', fallback: '0' },
      { name: c('runAt'), sqlType: 'timestamptz', fallback: 'now()' },
      { name: c('idempotencyKey'), sqlType: 'text' },
    ];
    const links: TableWriter['links'] = new Map();
    for (const prop of linkProperties(meta)) {
      links.set(prop.name, { prop, first: columns.length });
      prop.fieldNames.forEach((name, index) => columns.push({ name, sqlType: prop.columnTypes[index] }));
    }
    const tracedColumns = [...columns, { name: c('traceparent'), sqlType: 'text' }];
    writer = { table, columns, tracedColumns, links, idempotencyKeyLength: idempotencyKeyLength(meta) };
    this.writers.set(meta, writer);
    this.byDefinition.set(definition, writer);
    return writer;
  }
}

/**
 * The parameters of a rule without a builder. A string the entity holds with a lone surrogate
 * is written as its own column stores it, with U+FFFD: the change is described as it was saved,
 * and it does not fail a flush that would succeed without auto-emission. A bigint (a key, most
 * often) becomes the decimal string insertEvents would write.
 */
function defaultParameters(change: EntityChange<any>): Record<string, unknown> | undefined {
  if (change.kind === 'update') {
    const changes: Record<string, unknown> = {};
    for (const [name, values] of Object.entries(change.changes as Record<string, unknown[]>)) {
      changes[name] = values.map(asStored);
    }
    return changes;
  }
  if (change.kind === 'delete' && change.original) {
    const snapshot: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(change.original)) {
      snapshot[name] = asStored(value);
    }
    return snapshot;
  }
  return undefined;
}

function asStored(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value.toString();
  }
  return typeof value === 'string' ? withoutLoneSurrogates(value) : value;
}

/** The length of an event table's idempotency key column (a subclass may re-declare it). */
function idempotencyKeyLength(meta: EntityMetadata<EventModel>): number {
  return meta.properties.idempotencyKey?.length ?? IDEMPOTENCY_KEY_LENGTH;
}

/**
 * Writes the column values of a link into row `row` of `values`, from column `first` on: a
 * to-one relation gives its target's primary key(s), NULL for none or a deleted target.
 */
function linkValues(
  prop: EntityMetadata<EventModel>['props'][number],
  value: unknown,
  deleted: Set<object>,
  values: unknown[][],
  first: number,
  row: number,
): void {
  if (prop.kind === SCALAR) {
    values[first][row] = value;
    return;
  }
  const target = core.Reference.isReference(value) ? value.unwrap() : value;
  if (target === null || target === undefined || deleted.has(target as object)) {
    return; // NULL in every column
  }
  if (prop.fieldNames.length === 1 && core.Utils.isEntity(target)) {
    values[first][row] = core.helper(target).getPrimaryKey();
    return;
  }
  const keys = core.Utils.isEntity(target)
    ? core.Utils.asArray(core.helper(target).getPrimaryKeys() ?? [])
    : core.Utils.asArray(target);
  for (let index = 0; index < prop.fieldNames.length; index++) {
    values[first + index][row] = keys[index];
  }
}
