/**
 * The composition root: builds the application for an environment from
 * `AppConfig` — embedded PGlite or Postgres, in-memory bus or Redis, OTLP
 * export or none. Only `main.ts`, the CLI and test stacks import this file.
 */
import { Effect, Layer, Option } from "effect"
import { AppConfig } from "./layers/AppConfig.ts"
import * as Bus from "./layers/Bus.ts"
import * as Database from "./layers/Database.ts"
import { JwtSecret } from "./layers/JwtSecret.ts"
import * as Logging from "./layers/Logging.ts"
import { Migrations } from "./layers/Migrations.ts"
import { Redis } from "./layers/Redis.ts"
import * as Telemetry from "./layers/Telemetry.ts"
import * as Server from "./http/Server.ts"
import { Auth } from "./services/Auth.ts"
import { FeatureFlags } from "./services/FeatureFlags.ts"
import { LessonAccess } from "./services/LessonAccess.ts"
import { Lessons } from "./services/Lessons.ts"
import { Relations } from "./services/Relations.ts"
import { Tokens } from "./services/Tokens.ts"
import { UserEvents } from "./services/UserEvents.ts"
import { Users } from "./services/Users.ts"

/** Package version, reported to tracing. */
export const version = "0.1.0"

/** Logging and tracing as configured. */
export const ObservabilityLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.mergeAll(
      Logging.layer({ level: config.logLevel, format: config.logFormat }),
      Telemetry.layer({ otlpEndpoint: config.otlpEndpoint, serviceName: config.serviceName, serviceVersion: version })
    ))
)

/** Redis (when `REDIS_URL` is set) and the Bus on top of it, else the in-memory Bus. */
export const MessagingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.match(config.redisUrl, {
      onNone: () => Bus.layerMemory,
      onSome: (url) =>
        Bus.layerRedis.pipe(Layer.provideMerge(Redis.layer({ url, keyPrefix: config.redisKeyPrefix })))
    }))
)

/** The database as configured, migrated. */
export const DatabaseLive = Migrations.layer.pipe(Layer.provideMerge(Database.layer))

/** Domain services over the infrastructure. */
export const ServicesLive = Layer.mergeAll(
  Auth.Default,
  Users.Default,
  Tokens.Default,
  UserEvents.Default,
  LessonAccess.Default,
  Relations.Default,
  Lessons.Default,
  FeatureFlags.Default
).pipe(Layer.provide(JwtSecret.layer))

/** Everything but the HTTP server. */
export const CoreLive = ServicesLive.pipe(
  Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive))
)

/** The whole server, for `lectern serve`. */
export const ServerLive = Server.layer.pipe(
  Layer.provide(CoreLive),
  Layer.provide(ObservabilityLive),
  Layer.provide(AppConfig.layer)
)
