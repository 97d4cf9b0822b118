import { isStorableText } from './storableText';

/**
 * The deepest nesting of objects and arrays that event parameters may have; the parameters
 * object itself is level 1. PostgreSQL parses JSON recursively and stops at `max_stack_depth`:
 * its default of 2MB holds about 12,000 levels, the smallest setting (100kB) about 600. Node's
 * JSON.stringify, which every write goes through, overflows at about 4,000 levels (fewer when
 * called deep in a stack). 1,000 leaves both a wide margin and is far beyond any real payload.
 */
export const MAX_PARAMETERS_DEPTH = 1_000;

/**
 * How to treat a BigInt: `decimal` for values auto-emission writes (they become decimal strings),
 * `refuse` for parameters MikroORM serialises itself, where JSON.stringify would throw.
 * @internal
 */
export type BigIntHandling = 'decimal' | 'refuse';

/**
 * The first reason why `parameters` cannot be written to a jsonb column as JSON.stringify would
 * serialise them, or undefined when they can: a BigInt (unless converted), a cycle, a string or
 * key with a NUL or a lone surrogate, nesting deeper than MAX_PARAMETERS_DEPTH.
 *
 * The common case, valid parameters, costs one native JSON.stringify and two scans of its text:
 * JSON.stringify escapes a NUL as `\u0000` and a lone surrogate as `\udXXX` (a pair it writes
 * as is), so both show in the text, keys included. Only when something is wrong (or a BigInt
 * makes JSON.stringify throw) does a walk of the value find what and where.
 * @internal
 */
export function parametersProblem(parameters: unknown, bigints: BigIntHandling): string | undefined {
  let text: string | undefined;
  try {
    text = JSON.stringify(parameters);
  } catch {
    return walkedProblem(parameters, bigints);
  }
  if (text === undefined || (!UNSTORABLE_ESCAPE.test(text) && !deeperThan(text, MAX_PARAMETERS_DEPTH))) {
    return undefined;
  }
  return walkedProblem(parameters, bigints) ?? 'text PostgreSQL cannot store';
}

/** `\u0000` or an escaped surrogate, preceded by an even number of backslashes (not `\\u0000`). */
const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;

/** Whether JSON text nests objects and arrays deeper than `max`. */
function deeperThan(text: string, max: number): boolean {
  // Each level takes an opening and a closing bracket.
  if (text.length <= 2 * max) {
    return false;
  }
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      if (char === BACKSLASH) {
        index++;
      } else if (char === QUOTE) {
        inString = false;
      }
    } else if (char === QUOTE) {
      inString = true;
    } else if (char === OPEN_BRACE || char === OPEN_BRACKET) {
      if (++depth > max) {
        return true;
      }
    } else if (char === CLOSE_BRACE || char === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

const [BACKSLASH, QUOTE, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET] = [...'\\"{}[]'].map(char =>
  char.charCodeAt(0),
);

/**
 * The walk behind parametersProblem: it follows JSON.stringify's own rules (toJSON, skipped
 * undefined and functions), so it judges exactly what would be sent, and it is bounded by the
 * depth limit, so it never overflows the stack itself.
 */
function walkedProblem(parameters: unknown, bigints: BigIntHandling): string | undefined {
  const found = new ParametersWalk(bigints).problem(parameters, '', 1);
  if (!found) {
    return undefined;
  }
  const path = found.path.length > 120 ? `${found.path.slice(0, 120)}…` : found.path;
  return path ? `${found.reason} at parameters${path}` : found.reason;
}

interface Problem {
  reason: string;
  /** Where, as a property path (`.a[2]["x y"]`), built on the way back up. */
  path: string;
}

class ParametersWalk {
  /** The objects on the current path, to tell a cycle from a value shared by two branches. */
  private readonly ancestors = new Set<object>();

  constructor(private readonly bigints: BigIntHandling) {}

  problem(value: unknown, key: string, depth: number): Problem | undefined {
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
      const toJSON = (value as { toJSON?: unknown }).toJSON;
      if (typeof toJSON === 'function') {
        value = toJSON.call(value, key);
      }
    }
    if (value instanceof String || value instanceof Number || value instanceof Boolean) {
      value = value.valueOf();
    }
    switch (typeof value) {
      case 'string':
        return isStorableText(value) ? undefined : { reason: unstorable(value), path: '' };
      case 'bigint':
        return this.bigints === 'decimal'
          ? undefined
          : { reason: `a BigInt (${value}n): give it as a decimal string`, path: '' };
      case 'object':
        return value === null ? undefined : this.container(value, depth);
      default:
        return undefined;
    }
  }

  private container(value: object, depth: number): Problem | undefined {
    if (depth > MAX_PARAMETERS_DEPTH) {
      return { reason: `nesting deeper than ${MAX_PARAMETERS_DEPTH} levels`, path: '' };
    }
    if (this.ancestors.has(value)) {
      return { reason: 'a cycle (an object that contains itself)', path: '' };
    }
    this.ancestors.add(value);
    try {
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const found = this.problem(value[index], String(index), depth + 1);
          if (found) {
            return { reason: found.reason, path: `[${index}]${found.path}` };
          }
        }
        return undefined;
      }
      for (const key of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[key];
        // JSON.stringify leaves these properties out, key and all.
        if (item === undefined || typeof item === 'function' || typeof item === 'symbol') {
          continue;
        }
        if (!isStorableText(key)) {
          return { reason: `a key ${JSON.stringify(key)} with ${unstorableWhat(key)}`, path: '' };
        }
        const found = this.problem(item, key, depth + 1);
        if (found) {
          return { reason: found.reason, path: `${propertyPath(key)}${found.path}` };
        }
      }
      return undefined;
    } finally {
      this.ancestors.delete(value);
    }
  }
}

function unstorable(value: string): string {
  const shown =
    value.length > 40 ? `${JSON.stringify(value.slice(0, 40)).slice(0, -1)}…"` : JSON.stringify(value);
  return `a string ${shown} with ${unstorableWhat(value)}`;
}

function unstorableWhat(value: string): string {
  return value.includes('\u0000') ? 'a NUL character' : 'a lone surrogate (half of a UTF-16 pair)';
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}
