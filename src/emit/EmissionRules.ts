import type { EntityMetadata, MetadataStorage } from '@mikro-orm/core';
import { EventsError } from '../EventsError';
import { EventModel } from '../model/EventModel';
import type { AutoEmitDefinition, EmitRule } from './autoEmit';
import type { EntityChange } from './EntityChange';

/**
 * The definitions that apply to one entity class, and whether any of their rules watches each
 * kind of change.
 * @internal
 */
export interface ClassRules {
  definitions: readonly AutoEmitDefinition[];
  create: boolean;
  update: boolean;
  delete: boolean;
}

/**
 * The auto-emission rules of a config, checked against the ORM's metadata once at startup and
 * indexed by entity class, so a flush looks its rules up in constant time.
 * @internal
 */
export class EmissionRules {
  private readonly byClass = new Map<unknown, AutoEmitDefinition[]>();
  /** What `for` answers, by entity class (its own definitions and its parents'). */
  private readonly forClass = new Map<unknown, ClassRules>();

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

  /**
   * The definitions that apply to entities of `meta`'s class (or of a parent class), and which
   * kinds of change their rules watch: a change of a kind no rule watches needs no description
   * (an update's diff, a delete's snapshot).
   */
  for(meta: EntityMetadata<any>): ClassRules {
    let found = this.forClass.get(meta.class);
    if (!found) {
      // A class's own definitions, else those of its parent classes.
      const definitions: AutoEmitDefinition[] = [...(this.byClass.get(meta.class) ?? [])];
      if (definitions.length === 0) {
        for (const [entity, list] of this.byClass) {
          if (typeof entity === 'function' && meta.class.prototype instanceof entity) {
            definitions.push(...list);
          }
        }
      }
      const watched = (kind: EmitRule<any, any>['on']) =>
        definitions.some(definition => definition.rules.some(rule => rule.on === kind));
      found = {
        definitions,
        create: watched('create'),
        update: watched('update'),
        delete: watched('delete'),
      };
      this.forClass.set(meta.class, found);
    }
    return found;
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
