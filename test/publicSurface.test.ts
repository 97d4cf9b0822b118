import 'reflect-metadata';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  eventStats,
  EventsError,
  type EventsErrorCode,
  handlerRegistry,
  loadHandlers,
  processEvents,
  register,
  Worker,
} from 'mikro-orm-events';
import ts from 'typescript';
import { TestEvent, testEntities } from './fixtures/entities';
import { silent } from './support/silentLogger';
import { createTestDatabase, type TestDatabase } from './support/testDatabase';
import { clearDatabase } from './support/schema';

const root = resolve(__dirname, '..');

/** The names the package's entry exports, each with whether its declaration says `@internal`. */
function entryExports(): { name: string; internal: boolean }[] {
  const entry = resolve(root, 'src/index.ts');
  const program = ts.createProgram([entry], { strict: true, experimentalDecorators: true });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(module).map(symbol => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const internal = (target.declarations ?? []).some(declaration =>
      ts.getJSDocTags(declaration).some(tag => tag.tagName.text === 'internal'),
    );
    return { name: symbol.name, internal };
  });
}

describe('the public surface', () => {
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase(__filename, testEntities, {
      baseDir: resolve(__dirname, 'fixtures'),
      events: { logger: silent, eventApps: ['apps/good'] },
    });
  });
  after(() => db?.close());
  beforeEach(async () => {
    handlerRegistry.clear();
    await clearDatabase(db.orm);
  });

  it('exports nothing marked @internal, and no registry class that nothing accepts', () => {
    const exported = entryExports();
    assert.ok(exported.length > 40, `the entry's exports were read (${exported.length})`);
    assert.deepEqual(
      exported.filter(symbol => symbol.internal).map(symbol => symbol.name),
      [],
    );
    const names = exported.map(symbol => symbol.name);
    assert.ok(!names.includes('HandlerRegistry'));
    assert.ok(names.includes('loadHandlers') && !names.includes('discoverHandlers'));
  });

  it('eventStats imports no handler module: it asks for loadHandlers, which imports them once', async () => {
    await db.orm.em.fork().insertMany(TestEvent, [{ type: 'discovered' }, { type: 'orphan' }]);

    await assert.rejects(eventStats(db.orm), (error: unknown) => {
      assert.ok(error instanceof EventsError);
      const code: EventsErrorCode = error.code;
      assert.equal(code, 'HANDLERS_NOT_LOADED');
      assert.match(error.message, /call `await loadHandlers\(orm\)` first/);
      return true;
    });
    assert.deepEqual(handlerRegistry.types(TestEvent), [], 'no processors module was imported');

    const files = await loadHandlers(db.orm);
    assert.deepEqual(files, [resolve(__dirname, 'fixtures/apps/good/events/processors.ts')]);
    const [stats] = await eventStats(db.orm);
    assert.deepEqual(
      stats.types.map(type => [type.type, type.hasHandler]),
      [
        ['discovered', true],
        ['orphan', false],
      ],
    );
    assert.deepEqual(stats.unhandledTypes, ['orphan']);
  });

  it('a misused Worker throws EventsError with a code', async () => {
    register(TestEvent, 'created', function noop() {});
    const worker = new Worker(db.orm, { once: true, logger: silent });
    await assert.rejects(worker.done, { name: 'EventsError', code: 'WORKER_NOT_STARTED' });
    await worker.start();
    await assert.rejects(worker.start(), { name: 'EventsError', code: 'WORKER_ALREADY_STARTED' });
    await worker.done;
  });

  it('results and hooks speak of retried and dead events', async () => {
    const retried: string[] = [];
    const dead: string[] = [];
    register(TestEvent, 'created', function fails() {
      throw new Error('no');
    });
    const em = db.orm.em.fork();
    const again = em.create(TestEvent, { type: 'created', maxAttempts: 2 });
    const last = em.create(TestEvent, { type: 'created', maxAttempts: 1 });
    await em.flush();

    const result = await processEvents(db.orm, {
      hooks: {
        onRetried: event => void retried.push(event.id),
        onDead: event => void dead.push(event.id),
      },
    });

    assert.deepEqual(
      { ...result, durationMs: 0 },
      { processed: 0, retried: 1, dead: 1, batches: 1, durationMs: 0 },
    );
    assert.deepEqual([retried, dead], [[again.id], [last.id]]);
  });
});

// The code is a union of the known codes, not any string.
// @ts-expect-error: not a code of the library
export const notACode: EventsErrorCode = 'NOT_A_CODE';
