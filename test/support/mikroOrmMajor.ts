import { readFileSync } from 'node:fs';

/** The major version of the installed `@mikro-orm/core`: 6 on most CI legs, 7 on the Node 22 one. */
export const mikroOrmMajor = Number(
  (
    JSON.parse(readFileSync(require.resolve('@mikro-orm/core/package.json'), 'utf8')) as { version: string }
  ).version.split('.')[0],
);

/**
 * The `module` setting with which tsc compiles a CommonJS app next to the installed MikroORM.
 * MikroORM 7 is ESM only: a CommonJS app loads it through Node 22's `require()` of ES modules,
 * which tsc allows from `node20` on (`node16` refuses each such import, error TS1479).
 */
export const commonJsModule = mikroOrmMajor >= 7 ? 'node20' : 'node16';
