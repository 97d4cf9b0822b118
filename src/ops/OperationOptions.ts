/** What every operation (stats, list, requeue, purge…) takes besides the ORM. */
export interface OperationOptions {
  /** The event model to act on, by class name (`OrderEvent`); every event model when omitted. */
  model?: string;
}
