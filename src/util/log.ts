// The one structured logger (pino): key/value records on stderr. Level from EGRESS_LOG_LEVEL
// (default "info"); tests get "silent" unless they ask. Never log secrets (tokens, keys).
import { pino } from "pino";

export type Logger = pino.Logger;

const defaultLevel = process.env.EGRESS_LOG_LEVEL ?? (process.env.NODE_TEST_CONTEXT ? "silent" : "info");

export const rootLogger: Logger = pino({ level: defaultLevel, base: undefined }, pino.destination(2));

export function logger(component: string): Logger {
  return rootLogger.child({ component });
}
