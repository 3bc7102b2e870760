import { ConfigError } from '@barge/core';

/** kafkajs's log levels; a client logs entries at or below its level. */
export const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;
export type LogLevel = (typeof logLevel)[keyof typeof logLevel];

/** pino's level names, also accepted as `logLevel` (`trace` logs as `debug`, `fatal` as `error`). */
export type LogLevelName = 'silent' | 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** What a `logCreator`'s log function receives (kafkajs's shape). */
export interface LogEntry {
  /** The part of the client that logs: `Producer`, `Consumer`, `Admin`, `Connection`. */
  namespace: string;
  level: LogLevel;
  label: 'ERROR' | 'WARN' | 'INFO' | 'DEBUG';
  log: { timestamp: string; logger: 'barge'; message: string; [field: string]: unknown };
}

/** kafkajs's `logCreator`: called once with the client's level, returns the function each entry goes to. */
export type LogCreator = (level: LogLevel) => (entry: LogEntry) => void;

/** A pino-compatible logger (pino itself, or anything with these methods). */
export interface PinoLikeLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** The logging options every client takes. Without any of them a client logs nothing. */
export interface LoggingOptions {
  /** Default: `NOTHING` (silent), or `DEBUG` when `logger` is given (pino filters by its own level). */
  logLevel?: LogLevel | LogLevelName;
  /** Where entries go (kafkajs style). Default with a `logLevel`: JSON lines on stderr. */
  logCreator?: LogCreator;
  /** Where entries go (pino style): `logger[level]({ namespace, ...fields }, message)`. */
  logger?: PinoLikeLogger;
}

/** What the client's parts log through. */
export interface Logger {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  /** The same sink and level under another namespace. */
  namespace(name: string): Logger;
}

const LABELS = { 1: 'ERROR', 2: 'WARN', 4: 'INFO', 5: 'DEBUG' } as const;
const BY_NAME: Record<LogLevelName, LogLevel> = {
  silent: 0,
  fatal: 1,
  error: 1,
  warn: 2,
  info: 4,
  debug: 5,
  trace: 5,
};

function levelOf(v: LoggingOptions['logLevel'], fallback: LogLevel): LogLevel {
  if (v === undefined) return fallback;
  if (typeof v === 'string' && Object.hasOwn(BY_NAME, v)) return BY_NAME[v as LogLevelName];
  if (typeof v === 'number' && Object.values(logLevel).includes(v as LogLevel)) return v as LogLevel;
  throw new ConfigError(
    `logLevel must be one of logLevel.NOTHING/ERROR/WARN/INFO/DEBUG (0, 1, 2, 4, 5) or silent, fatal, error, warn, info, debug, trace; got ${JSON.stringify(v)}`,
    'logLevel',
  );
}

/** kafkajs's default: one JSON line per entry, on stderr. */
const stderrLogCreator: LogCreator =
  () =>
  ({ namespace, label, log }) => {
    const { timestamp, logger, message, ...fields } = log;
    process.stderr.write(
      `${JSON.stringify({ level: label, timestamp, logger, namespace, message, ...fields })}\n`,
    );
  };

function pinoLogCreator(logger: PinoLikeLogger): LogCreator {
  const method = { 1: 'error', 2: 'warn', 4: 'info', 5: 'debug' } as const;
  return () =>
    ({ namespace, level, log }) => {
      const { timestamp: _t, logger: _l, message, ...fields } = log;
      const m = method[level as keyof typeof method];
      if (m) logger[m]({ namespace, ...fields }, message);
    };
}

/**
 * A client's logger from its options: silent unless `logLevel`, `logCreator` or `logger` asks
 * for output. A failing sink never breaks the client.
 */
export function createLogger(options: LoggingOptions, namespace: string): Logger {
  if (options.logCreator !== undefined && typeof options.logCreator !== 'function')
    throw new ConfigError('logCreator must be a function (level) => (entry) => void', 'logCreator');
  if (options.logger !== undefined && typeof options.logger?.warn !== 'function')
    throw new ConfigError('logger must be pino-compatible: error, warn, info and debug methods', 'logger');
  if (options.logCreator && options.logger)
    throw new ConfigError('give logCreator or logger, not both', 'logger');
  const level = levelOf(options.logLevel, options.logger ? logLevel.DEBUG : logLevel.NOTHING);
  if (level === logLevel.NOTHING) return silentLogger;
  const creator = options.logCreator ?? (options.logger ? pinoLogCreator(options.logger) : stderrLogCreator);
  const sink = creator(level);
  const make = (ns: string): Logger => {
    const at =
      (l: Exclude<LogLevel, 0>) =>
      (message: string, fields?: Record<string, unknown>): void => {
        if (l > level) return;
        try {
          sink({
            namespace: ns,
            level: l,
            label: LABELS[l],
            log: { ...fields, timestamp: new Date().toISOString(), logger: 'barge', message },
          });
        } catch {
          // a logger must not break the client
        }
      };
    return { error: at(1), warn: at(2), info: at(4), debug: at(5), namespace: make };
  };
  return make(namespace);
}

const noop = () => {};
export const silentLogger: Logger = {
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  namespace: () => silentLogger,
};
