/** Logging and tracing variables: level, format, the OTLP endpoint and the service name. */
import { Config, type ConfigError, Either, LogLevel } from "effect"
import { invalid, urlWithScheme } from "./Variables.ts"

const logLevels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const

function capitalize<S extends "trace" | "debug" | "info" | "error" | "fatal" | "none">(s: S) {
  const map = { trace: "Trace", debug: "Debug", info: "Info", error: "Error", fatal: "Fatal", none: "None" } as const
  return map[s]
}

export const logLevel = Config.string("LOG_LEVEL").pipe(
  Config.mapOrFail((raw) => {
    const v = raw.trim().toLowerCase()
    const match = logLevels.find((l) => l === v || (v === "warn" && l === "warning"))
    return match === undefined
      ? Either.left(invalid(`expected one of ${logLevels.join(", ")}, got "${raw}"`))
      : Either.right(LogLevel.fromLiteral(match === "warning" ? "Warning" : capitalize(match)))
  }),
  Config.withDefault(LogLevel.Info)
)
export const logFormat = Config.string("LOG_FORMAT").pipe(
  Config.mapOrFail((raw): Either.Either<"json" | "pretty", ConfigError.ConfigError> =>
    raw === "json" || raw === "pretty"
      ? Either.right(raw)
      : Either.left(invalid(`expected json or pretty, got "${raw}"`))
  ),
  Config.withDefault<"json" | "pretty">("json")
)
export const otlpEndpoint = Config.option(
  urlWithScheme("OTEL_EXPORTER_OTLP_ENDPOINT", ["http", "https"], "http://127.0.0.1:4318")
)
export const serviceName = Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("lectern"))
