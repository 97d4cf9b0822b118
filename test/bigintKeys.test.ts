import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EntityClass } from '@mikro-orm/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { autoEmit, type EventModel, EventsExtension } from 'mikro-orm-events';
import {
  BigBook,
  BigBookEvent,
  BigShelf,
  bigintEntities,
  Book,
  BookEvent,
  NumBook,
  NumBookEvent,
  NumShelf,
  Shelf,
} from './fixtures/bigintEntities';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';

interface AnyBook {
  id: unknown;
  title: string;
  shelf?: { id: unknown } | null;
}

/** The same rules for each mapping; the create rule has a builder that returns the keys. */
function bookRules(book: EntityClass<AnyBook>, event: EntityClass<EventModel>) {
  return autoEmit(book, event, {
    link: entity => ({ book: entity }) as never,
    rules: [
      {
        on: 'create',
        type: 'book.created',
        parameters: entity => ({ id: entity.id, shelf: entity.shelf?.id ?? null }),
        idempotencyKey: entity => `book:${String(entity.id)}`,
      },
      { on: 'update', type: 'book.updated' },
      { on: 'delete', type: 'book.deleted' },
    ],
  });
}

/**
 * Each way MikroORM 6 maps a bigint key, with how its keys appear in parameters: a decimal string
 * (exact beyond 2^53), or a number for the `number` mapping, which the entity itself holds.
 */
const mappings = [
  {
    name: "@PrimaryKey({ type: 'bigint' })",
    shelf: Shelf,
    book: Book,
    event: BookEvent,
    tables: ['shelf', 'book', 'book_event'],
    asJson: (id: unknown) => String(id),
    json: 'decimal strings',
    value: (n: number): unknown => String(n),
    start: 9_007_199_254_740_993n,
  },
  {
    name: "@PrimaryKey({ type: new BigIntType('bigint') })",
    shelf: BigShelf,
    book: BigBook,
    event: BigBookEvent,
    tables: ['big_shelf', 'big_book', 'big_book_event'],
    asJson: (id: unknown) => String(id),
    json: 'decimal strings',
    value: (n: number): unknown => BigInt(n),
    start: 9_007_199_254_740_993n,
  },
  {
    name: "@PrimaryKey({ type: new BigIntType('number') })",
    shelf: NumShelf,
    book: NumBook,
    event: NumBookEvent,
    tables: ['num_shelf', 'num_book', 'num_book_event'],
    asJson: (id: unknown) => id,
    json: 'numbers',
    value: (n: number): unknown => n,
    start: 1_000_000n,
  },
];

describe('auto-emission for entities with bigint primary keys', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  before(async () => {
    db = await createTestDatabase(__filename, bigintEntities, {
      extensions: [EventsExtension],
      events: { autoEmit: mappings.map(mapping => bookRules(mapping.book, mapping.event)) },
    });
    orm = db.orm;
    // Keys beyond Number.MAX_SAFE_INTEGER, where only a decimal string stays exact.
    for (const mapping of mappings) {
      for (const table of mapping.tables.slice(0, 2)) {
        await orm.em
          .getConnection()
          .execute(`select setval(pg_get_serial_sequence('${table}', 'id'), ${mapping.start - 1n})`);
      }
    }
  });
  after(() => db?.close());

  for (const mapping of mappings) {
    it(`${mapping.name}: create, update and delete write the keys in the link and as ${mapping.json} in the parameters`, async () => {
      const key = mapping.asJson;
      const events = (): Promise<{ type: string; book: string | null; parameters: unknown; key: string }[]> =>
        orm.em
          .getConnection()
          .execute(
            `select type, book_id::text as book, parameters, idempotency_key as key from ${mapping.tables[2]} order by id`,
          );
      const em = orm.em.fork();
      const first = em.create(mapping.shelf, {});
      const second = em.create(mapping.shelf, {});
      const book = em.create(mapping.book, {
        title: 'one',
        shelf: first,
        copies: mapping.value(1) as never,
        notes: { a: 1 },
      });
      await em.flush();
      assert.equal(String(book.id), String(mapping.start), 'the key is the one the sequence gave');

      book.title = 'two';
      book.shelf = second;
      book.copies = mapping.value(2) as never;
      book.notes = { a: 2 };
      await em.flush();
      const id = String(book.id);
      assert.deepEqual(await events(), [
        {
          type: 'book.created',
          book: id,
          parameters: { id: key(book.id), shelf: key(first.id) },
          key: `book:${id}`,
        },
        {
          type: 'book.updated',
          book: id,
          // Before and after alike as the entity holds them (not the snapshot's database form).
          parameters: {
            title: ['one', 'two'],
            shelf: [key(first.id), key(second.id)],
            copies: [key(mapping.value(1)), key(mapping.value(2))],
            notes: [{ a: 1 }, { a: 2 }],
          },
          key: null,
        },
      ]);

      em.remove(book);
      await em.flush();
      const [, , deleted] = await events();
      assert.deepEqual(deleted, {
        type: 'book.deleted',
        book: null,
        parameters: {
          id: key(book.id),
          title: 'two',
          copies: key(mapping.value(2)),
          notes: { a: 2 },
          shelf: key(second.id),
        },
        key: null,
      });
      assert.equal((await orm.em.fork().count(mapping.book, {})) as number, 0);
    });
  }
});
