import * as core from '@mikro-orm/core';

type Decorators = Pick<
  typeof core,
  'Entity' | 'Enum' | 'ManyToOne' | 'PrimaryKey' | 'Property' | 'Transactional'
>;

/**
 * The decorators the tests declare entities and services with: MikroORM 6 exports them from
 * `@mikro-orm/core`, MikroORM 7 from `@mikro-orm/decorators/legacy` (with the same options).
 */
export const { Entity, Enum, ManyToOne, PrimaryKey, Property, Transactional }: Decorators =
  typeof (core as Partial<Decorators>).Entity === 'function'
    ? core
    : // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('@mikro-orm/decorators/legacy') as Decorators);
