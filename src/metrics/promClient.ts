import type * as PromClient from 'prom-client';
import { optionalPackage } from '../optionalPackage';

/** @internal */
export type PromClientModule = typeof PromClient;

let client: PromClientModule | null | undefined;

/**
 * prom-client when it is installed, else null; looked up once per process.
 * @internal
 */
export function promClient(): PromClientModule | null {
  if (client === undefined) {
    client = optionalPackage<PromClientModule>('prom-client');
  }
  return client;
}
