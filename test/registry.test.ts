import 'reflect-metadata';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { EventsError, handlerRegistry, register } from 'mikro-orm-events';
import { discoverHandlers } from '../dist/registry/discoverHandlers';
import { injectable } from 'tsyringe';
import { AuditEvent, TestEvent, Widget } from './fixtures/entities';
import { silent } from './support/silentLogger';

const fixtures = resolve(__dirname, 'fixtures');

describe('handler registry', () => {
  afterEach(() => handlerRegistry.clear());

  it('two registered keys show up in the registry', () => {
    register(TestEvent, 'created', function onCreated() {});
    register(AuditEvent, 'logged', function onLogged() {});
    assert.deepEqual(
      handlerRegistry.keys().map(({ model, type }) => `${model.name}:${type}`),
      ['TestEvent:created', 'AuditEvent:logged'],
    );
  });

  it('keeps every handler of a key in registration order, functions and classes alike', () => {
    register(TestEvent, 'created', function first() {});
    @register(TestEvent, 'created')
    @injectable()
    class Second {
      handle() {}
    }
    register(TestEvent, 'created', () => undefined, { name: 'third' });
    assert.deepEqual(
      handlerRegistry.get(TestEvent, 'created').map(handler => [handler.kind, handler.name]),
      [
        ['function', 'first'],
        ['class', 'Second'],
        ['function', 'third'],
      ],
    );
    assert.equal(handlerRegistry.get(TestEvent, 'created')[1].target, Second);
  });

  it('registering the same handler twice is a no-op', () => {
    function once() {}
    register(TestEvent, 'created', once);
    register(TestEvent, 'created', once);
    assert.equal(handlerRegistry.get(TestEvent, 'created').length, 1);
  });

  it('rejects an anonymous handler, a name taken by another handler, and a model that is not an EventModel', () => {
    assert.throws(() => register(TestEvent, 'created', () => undefined), { code: 'ANONYMOUS_HANDLER' });
    register(TestEvent, 'created', function same() {});
    assert.throws(() => register(TestEvent, 'created', () => undefined, { name: 'same' }), {
      code: 'DUPLICATE_HANDLER_NAME',
    });
    assert.throws(
      () => register(Widget as any, 'created', function onWidget() {}),
      (error: unknown) =>
        error instanceof EventsError && error.code === 'NOT_AN_EVENT_MODEL' && /Widget/.test(error.message),
    );
    assert.throws(() => register(TestEvent, 'x'.repeat(129), function tooLong() {}), {
      code: 'INVALID_EVENT_TYPE',
    });
    assert.equal(handlerRegistry.get(TestEvent, 'created').length, 1);
  });
});

describe('discovery', () => {
  afterEach(() => handlerRegistry.clear());

  it('imports the events/processors module of each event app and warns of an app without one, naming the path looked at', async () => {
    const warnings: string[] = [];
    const files = await discoverHandlers({
      baseDir: fixtures,
      eventApps: ['apps/good', 'apps/empty'],
      handlers: [],
      logger: { ...silent, warn: message => warnings.push(message) },
    });
    assert.deepEqual(files, [resolve(fixtures, 'apps/good/events/processors.ts')]);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.ok(
      warnings[0].startsWith(
        `event app "apps/empty" has no events/processors module: looked for ${resolve(fixtures, 'apps/empty/events/processors')}{.ts,`,
      ),
      warnings[0],
    );
    assert.deepEqual(
      handlerRegistry.get(TestEvent, 'discovered').map(handler => handler.name),
      ['discoveredHandler'],
    );
  });

  it('reports a module that throws while loading as an error naming the file', async () => {
    await assert.rejects(
      discoverHandlers({ baseDir: fixtures, eventApps: ['apps/good', 'apps/broken'], handlers: [] }),
      (error: unknown) =>
        error instanceof EventsError &&
        error.code === 'HANDLER_MODULE_FAILED' &&
        error.message.includes(resolve(fixtures, 'apps/broken/events/processors.ts')) &&
        error.message.includes('this processors module is broken'),
    );
  });

  it('reports a listed handler module that does not exist', async () => {
    await assert.rejects(
      discoverHandlers({ baseDir: fixtures, eventApps: [], handlers: ['nowhere/handlers'] }),
      {
        code: 'HANDLER_MODULE_NOT_FOUND',
      },
    );
  });
});
