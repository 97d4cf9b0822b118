/**
 * The PostgreSQL NOTIFY channel that announces new events. Every transaction that writes events
 * (auto-emitted or created by hand through the unit of work) sends one notification on it,
 * delivered only when the transaction commits. The payload is empty: a notification is a hint
 * to look for due events, never data to trust.
 */
export const EVENTS_CHANNEL = 'mikro_orm_events';
