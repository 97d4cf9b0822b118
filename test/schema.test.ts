import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testEntities } from './fixtures/entities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

describe('the event table', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities);
  });
  after(() => db?.close());

  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return db.orm.em.getConnection().execute<T[]>(sql, params);
  }

  it('has every column of the design, with its type, nullability and default', async () => {
    const columns = await query<{
      column_name: string;
      type: string;
      is_nullable: string;
      column_default: string | null;
    }>(
      `select column_name, format_type(a.atttypid, a.atttypmod) as type, is_nullable, column_default
       from information_schema.columns c
       join pg_attribute a on a.attrelid = 'test_event'::regclass and a.attname = c.column_name
       where table_name = 'test_event' order by column_name`,
    );
    const described = Object.fromEntries(
      columns.map(c => [
        c.column_name,
        `${c.type}${c.is_nullable === 'YES' ? ' null' : ''} ${c.column_default ?? ''}`.trim(),
      ]),
    );
    assert.deepEqual(described, {
      id: "bigint nextval('test_event_id_seq'::regclass)",
      type: 'character varying(128)',
      created_at: 'timestamp with time zone now()',
      parameters: "jsonb '{}'::jsonb",
      processed: 'boolean false',
      processed_at: 'timestamp with time zone null',
      error: 'boolean false',
      error_message: 'text null',
      last_error_at: 'timestamp with time zone null',
      attempts: 'integer 0',
      max_attempts: 'integer null',
      run_at: 'timestamp with time zone now()',
      priority: 'smallint 0',
      idempotency_key: 'character varying(255) null',
      completed_handlers: "text[] '{}'::text[]",
      traceparent: 'text null',
    });
  });

  it('gets the pending-rows partial index and the partial unique index of idempotency keys on each subclass table', async () => {
    const indexes = await query<{ tablename: string; indexdef: string }>(
      `select tablename, indexdef from pg_indexes where tablename in ('test_event', 'audit_event') order by tablename, indexname`,
    );
    for (const table of ['test_event', 'audit_event']) {
      const definitions = indexes.filter(index => index.tablename === table).map(index => index.indexdef);
      assert.ok(
        definitions.some(def =>
          def.endsWith(
            `ON public.${table} USING btree (priority DESC, run_at, id) WHERE (processed = false)`,
          ),
        ),
        `${table}: ${definitions.join('; ')}`,
      );
      assert.ok(
        definitions.some(
          def =>
            def.startsWith(`CREATE UNIQUE INDEX`) &&
            def.endsWith('(idempotency_key) WHERE (idempotency_key IS NOT NULL)'),
        ),
        `${table}: ${definitions.join('; ')}`,
      );
    }
  });

  it('is stable: the schema diff after creating it is empty', async () => {
    const diff = await db.orm.schema.getUpdateSchemaSQL();
    assert.equal(diff.trim(), '');
  });
});
