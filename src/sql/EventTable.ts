import type { EntityManager, EntityMetadata } from '@mikro-orm/core';
import type { EventModel } from '../model/EventModel';

/** An EventModel property that has a column. */
export type EventColumn = Exclude<keyof EventModel, symbol>;

/**
 * The SQL names of one event table and its columns, taken from the ORM's metadata so that
 * naming strategies and schemas are respected and no user input is ever spliced into SQL.
 * @internal
 */
export class EventTable {
  /** The schema-qualified, quoted table name. */
  readonly name: string;
  private readonly columns = new Map<string, string>();
  private readonly quoteIdentifier: (name: string) => string;

  /** The table of `meta`, named as `em`'s platform and default schema name it. */
  constructor(
    readonly meta: EntityMetadata<EventModel>,
    em: EntityManager,
  ) {
    const platform = em.getPlatform();
    this.quoteIdentifier = name => platform.quoteIdentifier(name);
    const schema = meta.schema && meta.schema !== '*' ? meta.schema : em.config.get('schema');
    this.name = (schema ? this.quote(schema) + '.' : '') + this.quote(meta.tableName);
    for (const prop of meta.props) {
      if (prop.fieldNames?.length === 1) {
        this.columns.set(prop.name, prop.fieldNames[0]);
      }
    }
  }

  /**
   * The quoted column of an EventModel property. An arrow function, so that SQL builders can
   * take it apart: `const { column: c } = table`.
   */
  readonly column = (property: EventColumn): string => this.quote(this.columnName(property));

  /** The column of an EventModel property, unquoted. */
  columnName(property: EventColumn): string {
    const column = this.columns.get(property);
    if (!column) {
      throw new Error(`${this.meta.className} has no column for ${property}`);
    }
    return column;
  }

  /** Quotes an identifier as the table's platform does. */
  quote(name: string): string {
    return this.quoteIdentifier(name);
  }
}
