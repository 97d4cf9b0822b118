import { Migration } from '@mikro-orm/migrations';

export class Migration20261127173359 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "order_event" add column "traceparent" text null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "order_event" drop column "traceparent";`);
  }
}
