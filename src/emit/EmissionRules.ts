import type { EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { EventModel } from '../model/EventModel';
import type { AutoEmitDefinition, EmitRule } from './autoEmit';
import type { EntityChange } from './EntityChange';

/**
 * The auto-emission rules of a config, checked against the ORM's metadata once at startup and
 * indexed by entity class, so a flush looks its rules up in constant time.
 * @internal
 */
export class EmissionRules {
  private readonly byClass = new Map<unknown, AutoEmitDefinition[]>();

  constructor(
    private readonly metadata: MetadataStorage,
    definitions: readonly AutoEmitDefinition[],
  ) {
    for (const definition of definitions) {
      this.check(definition);
      const list = this.byClass.get(definition.entity) ?? [];
      this.byClass.set(definition.entity, [...list, definition]);
    }
  }

  get isEmpty(): boolean {
    return this.byClass.size === 0;
  }

  /** The definitions that apply to entities of `meta`'s class (or of a parent class). */
  for(meta: EntityMetadata<any>): readonly AutoEmitDefinition[] {
    const cached = this.byClass.get(meta.class);
    if (cached) {
      return cached;
    }
    const inherited: AutoEmitDefinition[] = [];
    for (const [entity, definitions] of this.byClass) {
      if (typeof entity === 'function' && meta.class.prototype instanceof entity) {
        inherited.push(...definitions);
      }
    }
    this.byClass.set(meta.class, inherited);
    return inherited;
  }

  /** The event model's metadata of a definition. */
  eventMeta(definition: AutoEmitDefinition): EntityMetadata<EventModel> {
    return this.metadata.find(definition.eventModel)!;
  }

  private check(definition: AutoEmitDefinition): void {
    const entityName = definition.entity.name;
    const entityMeta = this.metadata.find(definition.entity);
    if (!entityMeta || entityMeta.class !== definition.entity) {
      throw EventsError.notAnEntity(entityName, 'auto-emission entity');
    }
    const eventMeta = this.metadata.find(definition.eventModel);
    if (!eventMeta || eventMeta.class !== definition.eventModel) {
      throw EventsError.notAnEntity(definition.eventModel.name, 'auto-emission event model');
    }
    const allowedTypes = eventMeta.properties.type?.items as unknown[] | undefined;
    for (const rule of definition.rules) {
      for (const field of [...(rule.fields ?? []), ...(rule.field ? [rule.field] : [])]) {
        if (!entityMeta.properties[field]) {
          throw EventsError.invalidRule(
            entityName,
            `it has no property "${String(field)}" (rule for ${rule.type})`,
          );
        }
      }
      if (allowedTypes?.length && !allowedTypes.includes(rule.type)) {
        throw EventsError.invalidRule(
          entityName,
          `"${rule.type}" is not one of the types of ${eventMeta.className} (${allowedTypes.join(', ')})`,
        );
      }
    }
  }
}

/**
 * Whether a rule selects a change: the kind, then the watched fields, then `from`/`to`, then
 * `when`.
 * @internal
 */
export function ruleMatches<T extends object>(
  rule: EmitRule<T, any>,
  entity: T,
  change: EntityChange<T>,
): boolean {
  if (rule.on !== change.kind) {
    return false;
  }
  if (change.kind === 'update') {
    const changed = change.changes as Record<string, [unknown, unknown]>;
    if (rule.fields && !rule.fields.some(field => field in changed)) {
      return false;
    }
    if (rule.field !== undefined) {
      const values = changed[rule.field];
      if (!values || !oneOf(rule.from, values[0]) || !oneOf(rule.to, values[1])) {
        return false;
      }
    }
  }
  return rule.when ? rule.when(entity, change) : true;
}

function oneOf(expected: unknown, actual: unknown): boolean {
  if (expected === undefined) {
    return true;
  }
  return Array.isArray(expected) ? expected.includes(actual) : expected === actual;
}
