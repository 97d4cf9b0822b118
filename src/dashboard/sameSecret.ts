import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a secret given by a client with the expected one in constant time, so that response
 * times do not reveal how much of it was right. Only the length can show.
 * @internal
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
