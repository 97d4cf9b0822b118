import * as core from '@mikro-orm/core';
// Absent next to MikroORM 6, where this type is then `any` and unused; not @ts-expect-error,
// since next to MikroORM 7 there is no error to expect.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import type * as legacy from '@mikro-orm/decorators/legacy';

type Name = 'Entity' | 'Enum' | 'ManyToOne' | 'PrimaryKey' | 'Property';
type From<Module> = { [N in Name]: Module extends Record<N, infer Decorator> ? Decorator : never };

/**
 * The entity decorators of the installed MikroORM: `@mikro-orm/core` exports them on 6,
 * `@mikro-orm/decorators/legacy` on 7 (with the same options). An app on one major imports them
 * from there, as the README shows; this example runs on both, so it takes them from here.
 */
export const {
  Entity,
  Enum,
  ManyToOne,
  PrimaryKey,
  Property,
}: From<typeof core extends Record<'Entity', unknown> ? typeof core : typeof legacy> =
  typeof (core as Record<string, unknown>).Entity === 'function'
    ? (core as never)
    : // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@mikro-orm/decorators/legacy');
