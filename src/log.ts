import { pino, type Logger } from "pino";

/** Structured JSON logs on stderr (stdout stays clean for commands that print config). */
export function createLogger(level: string = process.env["MESHPILOT_LOG_LEVEL"] ?? "info"): Logger {
  return pino({ level, base: { app: "meshpilot" } }, pino.destination(2));
}

export type { Logger };
