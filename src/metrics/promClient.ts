import type * as PromClient from 'prom-client';
import { optionalPackage } from '../optionalPackage';

/** @internal */
export type PromClientModule = typeof PromClient;

/**
 * prom-client when it is installed, else null.
 * @internal
 */
export function promClient(): PromClientModule | null {
  return optionalPackage<PromClientModule>('prom-client');
}
