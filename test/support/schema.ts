import type { MikroORM } from '@mikro-orm/core';

type Generator = Record<string, ((options?: object) => Promise<void>) | undefined>;

/** Calls the schema generator's method by its MikroORM 6 name, or by its shorter MikroORM 7 one. */
function run(orm: MikroORM, v6: string, v7: string, options?: object): Promise<void> {
  const generator = orm.schema as unknown as Generator;
  return (generator[v6] ?? generator[v7])!.call(generator, options);
}

export const clearDatabase = (orm: MikroORM) => run(orm, 'clearDatabase', 'clear');
export const refreshDatabase = (orm: MikroORM) => run(orm, 'refreshDatabase', 'refresh');
export const dropSchema = (orm: MikroORM, options?: object) => run(orm, 'dropSchema', 'drop', options);
