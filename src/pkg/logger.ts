// Structured JSON-line logs with etcd's level names (debug, info, warn, error, panic, fatal).
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'panic', 'fatal'] as const;

export function createLogger(level: string, destinationFd = 2): Logger {
  return pino(
    {
      level: level === 'panic' ? 'fatal' : level,
      base: null,
      messageKey: 'msg',
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ fd: destinationFd, sync: true }),
  );
}
