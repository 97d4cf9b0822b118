/** Where the library writes what it does. Any object with these three methods will do. */
export interface EventsLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** The default logger: one line per message on stderr, so stdout stays free for command output. */
export const consoleLogger: EventsLogger = {
  info: message => console.error(`[events] ${message}`),
  warn: message => console.error(`[events] warning: ${message}`),
  error: message => console.error(`[events] error: ${message}`),
};
