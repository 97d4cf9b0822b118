import * as core from '@mikro-orm/core';

type Decorators = Pick<typeof core, 'Entity' | 'Index' | 'PrimaryKey' | 'Property' | 'Unique'>;

/**
 * The entity decorators the event model is declared with: MikroORM 6 exports them from
 * `@mikro-orm/core`; MikroORM 7 moved them to `@mikro-orm/decorators` (an optional peer,
 * needed only there), whose `legacy` ones take the same options. Both write the same metadata
 * storage, so an app may declare its own event models with either kind of decorators.
 * @internal
 */
export const { Entity, Index, PrimaryKey, Property, Unique }: Decorators =
  typeof (core as Partial<Decorators>).Entity === 'function'
    ? core
    : // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('@mikro-orm/decorators/legacy') as Decorators);

/**
 * The table and the columns an index `expression` callback was given: MikroORM 6 passes
 * `(table, columns, indexName)`, MikroORM 7 `(columns, table, indexName)`, with a table that has a
 * `qualifiedName`.
 * @internal
 */
export function indexTarget(
  first: unknown,
  second: unknown,
): { table: string; columns: Record<string, string> } {
  const v7 = typeof second === 'object' && second !== null && 'qualifiedName' in second;
  const [table, columns] = v7 ? [second, first] : [first, second];
  return { table: String(table), columns: columns as Record<string, string> };
}
