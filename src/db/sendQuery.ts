import type { EntityManager } from '@mikro-orm/core';

/** The rows a statement returned, as the driver typed them. */
export type Rows = Record<string, unknown>[];

/**
 * Sends one statement the way MikroORM sends its own: its SQL passes through the config's
 * `onQuery`, MikroORM's logger shows it (`debug: true` or `debug: ['query']`) with its duration
 * and row count, and a driver error comes out converted by the platform (a
 * `UniqueConstraintViolationException`, a `DeadlockException`…), so that users see and catch the
 * library's statements as they do their own.
 *
 * `sql` takes `?` placeholders, or `$1`, `$2`… with `numbered`; `send` gets the SQL that
 * `onQuery` returned and runs it with the values bound.
 * @internal
 */
export async function sendQuery(
  em: EntityManager,
  sql: string,
  params: readonly unknown[],
  send: (sql: string) => Promise<Rows>,
  numbered = false,
): Promise<Rows> {
  const text = em.config.get('onQuery')(sql, params as unknown[]);
  const started = Date.now();
  try {
    const rows = await send(text);
    logQuery(em, text, params, numbered, { took: Date.now() - started, results: rows.length });
    return rows;
  } catch (error) {
    logQuery(em, text, params, numbered, { took: Date.now() - started, level: 'error' });
    throw em.getDriver().convertException(error as Error);
  }
}

/**
 * Shows a statement in MikroORM's query log, if it is on. As for MikroORM's own queries, the
 * values are inlined when `query-params` is on too (as `debug: true` has it), else the SQL shows
 * `$n` placeholders.
 * @internal
 */
export function logQuery(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
  numbered = false,
  context: { took?: number; results?: number; level?: 'info' | 'error' } = {},
): void {
  const logger = em.config.getLogger();
  // Without context resolution: the global EntityManager may refuse to be used for context.
  const loggerContext = em.getLoggerContext({ disableContextResolution: true });
  if (!logger.isEnabled('query', loggerContext)) {
    return;
  }
  let query: string;
  if (params.length > 0 && logger.isEnabled('query-params', loggerContext)) {
    // The platform inlines values at `?` placeholders, in order; arrays, which the driver sends
    // as array literals, as those literals.
    const platform = em.getPlatform();
    const ordered: unknown[] = numbered ? [] : [...params];
    const marked = numbered
      ? sql.replace(/\$(\d+)/g, (_, n: string) => (ordered.push(params[Number(n) - 1]), '?'))
      : sql;
    const values = ordered.map(value => (Array.isArray(value) ? platform.marshallArray(value) : value));
    query = platform.formatQuery(marked, values);
  } else {
    let n = 0;
    query = numbered ? sql : sql.replace(/\?/g, () => `$${++n}`);
  }
  logger.logQuery({
    ...loggerContext,
    level: 'info',
    ...context,
    query,
    params: [...params],
    connection: { type: 'write', name: em.config.get('name') },
  });
}
