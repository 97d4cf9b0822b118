import type { EntityMetadata, Platform } from '@mikro-orm/core';
import type { EventModel } from '../model/EventModel';

type Column = Exclude<keyof EventModel, symbol>;

/**
 * The SQL names of one event table and its columns, taken from the ORM's metadata so that
 * naming strategies and schemas are respected and no user input is ever spliced into SQL.
 * @internal
 */
export class EventTable {
  /** The schema-qualified, quoted table name. */
  readonly name: string;
  private readonly columns = new Map<string, string>();

  constructor(
    readonly meta: EntityMetadata<EventModel>,
    private readonly platform: Platform,
    defaultSchema?: string,
  ) {
    const schema = meta.schema && meta.schema !== '*' ? meta.schema : defaultSchema;
    this.name = (schema ? this.quote(schema) + '.' : '') + this.quote(meta.tableName);
    for (const prop of meta.props) {
      if (prop.fieldNames?.length === 1) {
        this.columns.set(prop.name, prop.fieldNames[0]);
      }
    }
  }

  /** The quoted column of an EventModel property. */
  column(property: Column): string {
    return this.quote(this.columnName(property));
  }

  /** The column of an EventModel property, unquoted. */
  columnName(property: Column): string {
    const column = this.columns.get(property);
    if (!column) {
      throw new Error(`${this.meta.className} has no column for ${property}`);
    }
    return column;
  }

  /** Quotes an identifier as the table's platform does. */
  quote(name: string): string {
    return this.platform.quoteIdentifier(name);
  }
}
