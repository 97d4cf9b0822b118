import { Migration } from '@mikro-orm/migrations';

export class Migration20261127023522 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "order" ("id" serial primary key, "customer" varchar(200) not null, "total_cents" int not null, "status" text check ("status" in ('pending', 'paid', 'failed', 'shipped')) not null default 'pending', "created_at" timestamptz not null);`,
    );

    this.addSql(
      `create table "order_event" ("id" bigserial primary key, "created_at" timestamptz not null default now(), "parameters" jsonb not null default '{}', "processed" boolean not null default false, "processed_at" timestamptz null, "error" boolean not null default false, "error_message" text null, "last_error_at" timestamptz null, "attempts" int not null default 0, "max_attempts" int null, "run_at" timestamptz not null default now(), "priority" smallint not null default 0, "idempotency_key" varchar(255) null, "completed_handlers" text[] not null default '{}', "order_id" int null, "type" text check ("type" in ('order.created', 'order.payment_requested', 'order.status_changed', 'order.failed', 'order.shipped')) not null);`,
    );
    this.addSql(
      `create index "order_event_priority_run_at_id_index" on "public"."order_event" ("priority" desc, "run_at", "id") where "processed" = false;`,
    );
    this.addSql(
      `create unique index "order_event_idempotency_key_unique" on "public"."order_event" ("idempotency_key") where "idempotency_key" is not null;`,
    );

    this.addSql(
      `create table "order_note" ("id" serial primary key, "order_id" int not null, "text" text not null, "created_at" timestamptz not null);`,
    );

    this.addSql(
      `alter table "order_event" add constraint "order_event_order_id_foreign" foreign key ("order_id") references "order" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "order_note" add constraint "order_note_order_id_foreign" foreign key ("order_id") references "order" ("id") on update cascade;`,
    );
  }
}
