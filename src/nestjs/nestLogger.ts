import { Logger } from '@nestjs/common';
import type { EventsLogger } from '../EventsLogger';

/** An `EventsLogger` that writes through Nest's `Logger`, under `context`. */
export function nestLogger(context = 'Events'): EventsLogger {
  const logger = new Logger(context);
  return {
    info: message => logger.log(message),
    warn: message => logger.warn(message),
    error: message => logger.error(message),
  };
}
