import { type NamingStrategy, UnderscoreNamingStrategy } from '@mikro-orm/core';

/** Tables `t_…` and columns `c_…`: no name of the default strategy is right. */
export class PrefixedNamingStrategy extends UnderscoreNamingStrategy implements NamingStrategy {
  override classToTableName(entityName: string): string {
    return `t_${super.classToTableName(entityName)}`;
  }

  override propertyToColumnName(propertyName: string, object?: boolean): string {
    return `c_${super.propertyToColumnName(propertyName, object)}`;
  }
}
