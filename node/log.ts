/** JSON lines on stderr: one object per event, with time and level. Quiet enough for the hot path. */
export interface Logger {
  info(o: Record<string, unknown>): void;
  warn(o: Record<string, unknown>): void;
  error(o: Record<string, unknown>): void;
}

export function createLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (level: string, o: Record<string, unknown>) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, ...o })}\n`);
  return {
    info: (o) => emit("info", o),
    warn: (o) => emit("warn", o),
    error: (o) => emit("error", o),
  };
}

/** A logger that keeps lines in memory (tests assert on them). */
export function memoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const push = (level: string) => (o: Record<string, unknown>) => void lines.push({ level, ...o });
  return { lines, info: push("info"), warn: push("warn"), error: push("error") };
}
