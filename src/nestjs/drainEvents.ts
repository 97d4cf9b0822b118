import { MikroORM } from '@mikro-orm/core';
import type { INestApplicationContext } from '@nestjs/common';
import { processEvents, type ProcessEventsOptions } from '../process/processEvents';
import type { ProcessEventsResult } from '../process/Worker';
import { EventsWorker } from './EventsWorker';

/**
 * For tests: processes the due events of a Nest application (one made with `@nestjs/testing`'s
 * `Test.createTestingModule()`, or any other) until none is left, with its `@OnEvent()`
 * handlers and its MikroORM, and resolves with the counts; then the handlers' effects are
 * committed and can be asserted.
 *
 * ```ts
 * await request(app.getHttpServer()).post('/articles').send({ title: 'Hello' }).expect(201);
 * await drainEvents(app);
 * ```
 *
 * If the application runs a worker too, this also waits for it to be idle, so that events it
 * had claimed are done as well.
 */
export async function drainEvents(
  app: INestApplicationContext,
  options: ProcessEventsOptions = {},
): Promise<ProcessEventsResult> {
  const result = await processEvents(app.get(MikroORM, { strict: false }), options);
  await app.get(EventsWorker, { strict: false }).idle();
  return result;
}
