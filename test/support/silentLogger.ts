/** A logger that drops everything, for tests that do not look at logs. */
export const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
