/** Where in its transaction a batch failed. */
export type BatchStage = 'while running its handlers' | 'while writing its flags' | 'at COMMIT';

/**
 * A batch that failed after its claim: its whole transaction was rolled back. It carries the ids
 * it had claimed, so that a batch that keeps failing can be bisected (see BatchBisection).
 * Its message is that of the cause, which the worker logs.
 * @internal
 */
export class FailedBatch extends Error {
  constructor(
    readonly ids: readonly string[],
    readonly stage: BatchStage,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'FailedBatch';
  }
}
