import { Migration } from '@mikro-orm/migrations';

export class Migration20261127023102 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "order_event" drop constraint if exists "order_event_type_check";`);

    this.addSql(
      `alter table "order_event" add constraint "order_event_type_check" check("type" in ('order.created', 'order.payment_requested', 'order.status_changed', 'order.failed', 'order.shipped'));`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "order_event" drop constraint if exists "order_event_type_check";`);

    this.addSql(
      `alter table "order_event" add constraint "order_event_type_check" check("type" in ('order.created', 'order.payment_requested', 'order.shipped'));`,
    );
  }
}
