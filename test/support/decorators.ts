import * as core from '@mikro-orm/core';
// Absent next to MikroORM 6, where this type is then `any` and unused; not @ts-expect-error,
// since next to MikroORM 7 there is no error to expect.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import type * as legacy from '@mikro-orm/decorators/legacy';

type Name = 'Entity' | 'Enum' | 'ManyToOne' | 'OneToMany' | 'PrimaryKey' | 'Property' | 'Transactional';
type From<Module> = { [N in Name]: Module extends Record<N, infer Decorator> ? Decorator : never };

/**
 * The decorators the tests declare entities and services with: MikroORM 6 exports them from
 * `@mikro-orm/core`, MikroORM 7 from `@mikro-orm/decorators/legacy` (with the same options). An
 * app on one major imports them from there; the tests run on both, and are type-checked by tsc
 * against the installed major's own decorator types.
 */
export const {
  Entity,
  Enum,
  ManyToOne,
  OneToMany,
  PrimaryKey,
  Property,
  Transactional,
}: From<typeof core extends Record<'Entity', unknown> ? typeof core : typeof legacy> =
  typeof (core as Record<string, unknown>).Entity === 'function'
    ? (core as never)
    : // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('@mikro-orm/decorators/legacy');
