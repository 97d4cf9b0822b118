import { MAX_PARAMETERS_DEPTH } from './model/parametersProblem';

/**
 * The `code` of every `EventsError`, one per case, stable across releases: switch on it rather
 * than on the message.
 */
export type EventsErrorCode =
  | 'ANONYMOUS_HANDLER'
  | 'AUTO_EMIT_WITHOUT_IMPLICIT_TRANSACTIONS'
  | 'CONCURRENCY_ABOVE_POOL'
  | 'DUPLICATE_EVENT_VALUE'
  | 'DUPLICATE_HANDLER_NAME'
  | 'DURATION_WITHOUT_UNIT'
  | 'EVENTS_OUTSIDE_TRANSACTION'
  | 'HANDLERS_NOT_LOADED'
  | 'HANDLER_ENDED'
  | 'HANDLER_MODULE_FAILED'
  | 'HANDLER_MODULE_NOT_FOUND'
  | 'INVALID_EVENT_TYPE'
  | 'INVALID_HANDLER'
  | 'INVALID_IDEMPOTENCY_KEY'
  | 'INVALID_LINK'
  | 'INVALID_MAX_ATTEMPTS'
  | 'INVALID_OPTION'
  | 'INVALID_PARAMETERS'
  | 'INVALID_PRIORITY'
  | 'INVALID_RULE'
  | 'INVALID_RUN_AT'
  | 'MISSING_OPTION'
  | 'MISSING_PACKAGE'
  | 'NEST_MODULE_FAILED'
  | 'NEST_MODULE_NOT_FOUND'
  | 'NEST_MODULE_WITHOUT_ORM'
  | 'NOT_AN_ENTITY'
  | 'NOT_AN_EVENT_MODEL'
  | 'NOT_A_NEST_MODULE'
  | 'NO_EVENT_MODELS'
  | 'NO_HANDLERS'
  | 'REQUEST_SCOPED_HANDLER'
  | 'UNCOMPILED_HANDLER_MODULE'
  | 'UNKNOWN_MODEL'
  | 'UNREGISTERED_TYPE'
  | 'WORKER_ALREADY_STARTED'
  | 'WORKER_NOT_STARTED'
  | 'WORKER_TABLE_MISSING'
  | 'INVALID_RELAY_ORDER'
  | 'INVALID_INBOX_MESSAGE';

/**
 * Every mistake the library can report about its input: configuration, registrations,
 * event catalogues and CLI flags. Each case is a static factory, so the message is written
 * once, next to its cause, and tells the user what to change.
 *
 * The CLI prints `message` alone (no stack) and exits with code 2 for these errors.
 */
export class EventsError extends Error {
  override readonly name = 'EventsError';

  private constructor(
    message: string,
    /** A stable machine-readable code for the case, e.g. `UNKNOWN_MODEL`. */
    readonly code: EventsErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static notAnEventModel(name: string): EventsError {
    return new EventsError(
      `${name} is not an EventModel subclass: extend EventModel and list the class among the ORM entities`,
      'NOT_AN_EVENT_MODEL',
    );
  }

  static unknownModel(name: string, known: string[]): EventsError {
    const choices = known.length > 0 ? known.join(', ') : 'none: no entity extends EventModel';
    return new EventsError(`Unknown event model "${name}" (known event models: ${choices})`, 'UNKNOWN_MODEL');
  }

  static noEventModels(): EventsError {
    return new EventsError(
      'No event models found: add an entity that extends EventModel to the ORM entities',
      'NO_EVENT_MODELS',
    );
  }

  static unregisteredType(type: string, model: string, registered: string[]): EventsError {
    const choices = registered.length > 0 ? registered.join(', ') : 'none';
    return new EventsError(
      `No handler is registered for type "${type}" of ${model} (types with handlers: ${choices})`,
      'UNREGISTERED_TYPE',
    );
  }

  static anonymousHandler(model: string, type: string): EventsError {
    return new EventsError(
      `A handler for ${model} "${type}" has no name: give it a name (a named function, a class, or the \`name\` option), because processed events record handlers by name`,
      'ANONYMOUS_HANDLER',
    );
  }

  static duplicateHandlerName(model: string, type: string, name: string): EventsError {
    return new EventsError(
      `Two different handlers for ${model} "${type}" are both named "${name}": handler names must be unique per event type`,
      'DUPLICATE_HANDLER_NAME',
    );
  }

  static invalidHandler(model: string, type: string): EventsError {
    return new EventsError(
      `The handler for ${model} "${type}" must be a function or a class with a handle(event, ctx) method`,
      'INVALID_HANDLER',
    );
  }

  static invalidEventType(type: unknown): EventsError {
    return new EventsError(
      `Event type must be a non-empty string of at most 128 characters, without NUL characters or lone surrogates, got ${JSON.stringify(type)}`,
      'INVALID_EVENT_TYPE',
    );
  }

  static duplicateEventValue(value: string, first: string, second: string): EventsError {
    return new EventsError(
      `Event catalogue uses the value "${value}" twice (${first} and ${second}): each event needs its own value`,
      'DUPLICATE_EVENT_VALUE',
    );
  }

  static handlerModuleFailed(file: string, cause: unknown): EventsError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new EventsError(`Failed to load event handlers from ${file}: ${reason}`, 'HANDLER_MODULE_FAILED', {
      cause,
    });
  }

  static handlerModuleNotFound(file: string): EventsError {
    return new EventsError(`Event handler module not found: ${file}`, 'HANDLER_MODULE_NOT_FOUND');
  }

  static invalidOption(name: string, value: unknown, expected: string): EventsError {
    return new EventsError(
      `Invalid value for ${name}: ${JSON.stringify(value) ?? String(value)} (expected ${expected})`,
      'INVALID_OPTION',
    );
  }

  static durationWithoutUnit(name: string, value: string): EventsError {
    return new EventsError(
      `Invalid value for ${name}: '${value}' needs a unit: ms, s, m, h or d (such as ${value}s or ${value}d)`,
      'DURATION_WITHOUT_UNIT',
    );
  }

  static invalidRule(entity: string, reason: string): EventsError {
    return new EventsError(`Invalid auto-emission rule for ${entity}: ${reason}`, 'INVALID_RULE');
  }

  static notAnEntity(name: string, role: string): EventsError {
    return new EventsError(
      `${name} (${role}) is not among the ORM entities: add it to the \`entities\` of the MikroORM config`,
      'NOT_AN_ENTITY',
    );
  }

  static invalidLink(eventModel: string, property: string): EventsError {
    return new EventsError(
      `The auto-emission link sets "${property}", which is not a column or a to-one relation of ${eventModel}`,
      'INVALID_LINK',
    );
  }

  static invalidRelayOrder(eventModel: string, property: string, links: string[]): EventsError {
    return new EventsError(
      `A relay's orderBy is "${property}", which is not a single-column link of ${eventModel}` +
        ` (its links: ${links.join(', ') || 'none'}): name one of them, or pass false`,
      'INVALID_RELAY_ORDER',
    );
  }

  static invalidInboxMessage(messageId: string, reason: string): EventsError {
    return new EventsError(
      `Inbox message ${messageId} cannot become an event: ${reason}`,
      'INVALID_INBOX_MESSAGE',
    );
  }

  static missingOption(name: string, expected: string): EventsError {
    return new EventsError(`Missing ${name}: give ${expected}`, 'MISSING_OPTION');
  }

  static invalidParameters(type: string, reason: string): EventsError {
    return new EventsError(
      `The parameters of a "${type}" event cannot be stored as JSON (${reason}): use plain JSON values (no BigInt, no cycles, no NUL characters or lone surrogates in strings and keys, at most ${MAX_PARAMETERS_DEPTH} levels deep)`,
      'INVALID_PARAMETERS',
    );
  }

  static uncompiledHandlerModule(file: string, reason: string): EventsError {
    return new EventsError(
      `Cannot load the event handler module ${file}: it is TypeScript, the app runs as compiled JavaScript, and the module tsc compiled from it was not found (${reason}). Set compilerOptions.rootDir and outDir in the tsconfig that events.tsConfig names (default: tsconfig.json) and build the app with tsc, or run the app from its sources under a TypeScript loader (tsx, ts-node)`,
      'UNCOMPILED_HANDLER_MODULE',
    );
  }

  static noHandlers(models: string[], modules: string[]): EventsError {
    const imported = modules.length > 0 ? modules.join(', ') : 'none';
    return new EventsError(
      `No handler is registered for ${models.join(', ')} (handler modules imported: ${imported}): check events.eventApps and events.handlers, or start the worker on a model that has handlers`,
      'NO_HANDLERS',
    );
  }

  static handlerEnded(handler: string): EventsError {
    return new EventsError(
      `Handler "${handler}" asked for ctx.em after it had ended (it returned, timed out or was aborted): its writes could not be part of the batch. Await every write inside the handler`,
      'HANDLER_ENDED',
    );
  }

  static autoEmitWithoutImplicitTransactions(): EventsError {
    return new EventsError(
      "events.autoEmit needs MikroORM's implicit transactions: with `implicitTransactions: false`, a flush outside em.transactional() writes each change on its own, and its events could not commit atomically with it. Remove `implicitTransactions: false` from the MikroORM config, or drop events.autoEmit and create events by hand inside em.transactional()",
      'AUTO_EMIT_WITHOUT_IMPLICIT_TRANSACTIONS',
    );
  }

  static eventsOutsideTransaction(): EventsError {
    return new EventsError(
      "This flush writes events outside a transaction, and MikroORM's `implicitTransactions` is false: each statement would commit on its own, not atomically with the changes the events describe. Flush inside em.transactional(), or remove `implicitTransactions: false` from the MikroORM config",
      'EVENTS_OUTSIDE_TRANSACTION',
    );
  }

  static workerTableMissing(table: string, reason: string): EventsError {
    return new EventsError(
      `The worker table ${table} is missing and could not be created (${reason}): grant the worker's database role CREATE on its schema, or create the table as the README's "Rolling deploys" section shows`,
      'WORKER_TABLE_MISSING',
    );
  }

  static invalidEventValue(
    type: string,
    property: 'priority' | 'runAt' | 'maxAttempts' | 'idempotencyKey',
    expected: string,
    got: string,
  ): EventsError {
    return new EventsError(
      `The ${property} of a "${type}" event must be ${expected}, got ${got}`,
      INVALID_VALUE_CODES[property],
    );
  }

  static concurrencyAbovePool(flag: string, concurrency: number, poolMax: number): EventsError {
    return new EventsError(
      `${flag} ${concurrency} is more than the connection pool's max (${poolMax}): each batch loop holds a pooled connection. Lower ${flag}, or set \`pool: { max: ${concurrency} }\` or more in the MikroORM config (${concurrency + 1} leaves a connection to the rest of the application)`,
      'CONCURRENCY_ABOVE_POOL',
    );
  }

  static workerAlreadyStarted(): EventsError {
    return new EventsError(
      'This worker was already started: a Worker runs once; make a new one to start again',
      'WORKER_ALREADY_STARTED',
    );
  }

  static workerNotStarted(): EventsError {
    return new EventsError(
      'The worker was not started: call start() before waiting for done',
      'WORKER_NOT_STARTED',
    );
  }

  static handlersNotLoaded(operation: string): EventsError {
    return new EventsError(
      `${operation} needs the handlers, and none are registered in this process: call \`await loadHandlers(orm)\` first, which imports the modules that the events config names`,
      'HANDLERS_NOT_LOADED',
    );
  }

  static nestModuleNotFound(path: string, lookedAt: string[]): EventsError {
    return new EventsError(
      `The Nest module of events.nestModule was not found: ${path} (looked for ${lookedAt.join(', ')})`,
      'NEST_MODULE_NOT_FOUND',
    );
  }

  static nestModuleFailed(file: string, cause: unknown): EventsError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new EventsError(`Failed to start the Nest module of ${file}: ${reason}`, 'NEST_MODULE_FAILED', {
      cause,
    });
  }

  static notANestModule(file: string, exportName: string, exported: string[]): EventsError {
    const names = exported.length > 0 ? exported.join(', ') : 'nothing';
    return new EventsError(
      `${file} exports no class named ${exportName} (it exports ${names}): fix events.nestModule's '#ExportName'`,
      'NOT_A_NEST_MODULE',
    );
  }

  static nestModuleWithoutOrm(file: string, exportName: string): EventsError {
    return new EventsError(
      `The Nest module ${exportName} of ${file} provides no MikroORM: import MikroOrmModule.forRoot() or forRootAsync() from @mikro-orm/nestjs in it`,
      'NEST_MODULE_WITHOUT_ORM',
    );
  }

  static missingPackage(name: string, feature: string): EventsError {
    return new EventsError(
      `${feature} needs the package ${name}, which cannot be loaded: install it (npm install ${name})`,
      'MISSING_PACKAGE',
    );
  }

  static requestScopedHandler(provider: string): EventsError {
    return new EventsError(
      `${provider} has @OnEvent() handlers but is request-scoped (or depends on a request-scoped provider): handler providers must be singletons`,
      'REQUEST_SCOPED_HANDLER',
    );
  }
}

const INVALID_VALUE_CODES = {
  priority: 'INVALID_PRIORITY',
  runAt: 'INVALID_RUN_AT',
  maxAttempts: 'INVALID_MAX_ATTEMPTS',
  idempotencyKey: 'INVALID_IDEMPOTENCY_KEY',
} as const satisfies Record<string, EventsErrorCode>;
