import type { Configuration } from '@mikro-orm/core';

/**
 * The most connections the ORM's pool opens: MikroORM's `pool: { max }`, else the pool's own
 * default (knex's, on MikroORM 6: 10).
 * @internal
 */
export function poolMax(config: Configuration): number {
  return config.get('pool')?.max ?? 10;
}
