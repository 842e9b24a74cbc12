/**
 * Log output: one JSON object per line (time, level, message, the fiber's
 * annotations such as request_id/user_id/route, trace and span ids of the current
 * span, and the cause when there is one), or a human format for terminals.
 * Owns formatting and the minimum level; what gets logged is decided elsewhere.
 */
import { Cause, Context, FiberRef, FiberRefs, HashMap, Inspectable, Layer, Logger, LogLevel, Option, Tracer } from "effect"

const levelName = (level: LogLevel.LogLevel) => level.label.toLowerCase()

const renderMessage = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : Inspectable.format(part))).join(" ")
}

const currentSpan = (refs: FiberRefs.FiberRefs): Option.Option<Tracer.AnySpan> =>
  Context.getOption(FiberRefs.getOrDefault(refs, FiberRef.currentContext), Tracer.ParentSpan)

/** Builds the JSON record of one log call. */
export const toRecord = (options: Logger.Logger.Options<unknown>): Record<string, unknown> => {
  const record: Record<string, unknown> = {
    time: options.date.toISOString(),
    level: levelName(options.logLevel),
    message: renderMessage(options.message)
  }
  for (const [key, value] of HashMap.toEntries(options.annotations)) record[key] = value
  Option.map(currentSpan(options.context), (span) => {
    record.trace_id = span.traceId
    record.span_id = span.spanId
  })
  if (!Cause.isEmpty(options.cause)) record.cause = Cause.pretty(options.cause, { renderErrorCause: true })
  return record
}

const safeStringify = (record: Record<string, unknown>) => {
  try {
    return JSON.stringify(record, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))
  } catch {
    return JSON.stringify({ ...record, message: String(record.message), unserializable: true })
  }
}

/** One JSON object per line on stdout. */
export const jsonLogger: Logger.Logger<unknown, void> = Logger.make((options) => {
  process.stdout.write(`${safeStringify(toRecord(options))}\n`)
})

/** The configured logger and level. */
export const layer = (options: { readonly level: LogLevel.LogLevel; readonly format: "json" | "pretty" }) =>
  Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, options.format === "json" ? jsonLogger : Logger.prettyLoggerDefault),
    Logger.minimumLogLevel(options.level)
  )
