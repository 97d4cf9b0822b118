/** Options every relay shares. */
export interface RelayOptions {
  /**
   * The handler's name, stored in `completedHandlers`. Default: `natsRelay` or `rabbitRelay`.
   * Give two relays of one event model different names.
   */
  name?: string;
  /**
   * The link property whose events are published in creation order: events of one linked
   * entity (the same order) reach the broker in the order they were created. Default: the
   * event model's first single-column link (its first relation or extra column); `false`, or an
   * event model without a link: no order is kept beyond that of each batch.
   */
  orderBy?: string | false;
}
