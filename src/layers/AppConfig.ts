/**
 * The server's whole configuration, read once through Effect `Config` (no code
 * reads environment variables itself). Absent variables fall back to the
 * embedded defaults; a malformed one fails start-up with a line naming it and the
 * expected form (see `describeConfigError`). Each section's variables are read in
 * `config/` (Http, Storage, Auth, Observability, Jobs, Push, Sync, Calls,
 * Realtime); this module assembles them into the `AppConfig` service.
 */
import { Cause, Config, ConfigError, ConfigProvider, Context, type Duration, Effect, Layer, LogLevel, Option, type Redacted } from "effect"
import * as Auth from "./config/Auth.ts"
import { type CallsConfig, callsConfig } from "./config/Calls.ts"
import * as Http from "./config/Http.ts"
import { type JobsConfig, jobsConfig } from "./config/Jobs.ts"
import * as Observability from "./config/Observability.ts"
import { type PushConfig, pushConfig } from "./config/Push.ts"
import { type RealtimeConfig, realtimeConfig } from "./config/Realtime.ts"
import * as Storage from "./config/Storage.ts"
import type { DatabaseTarget } from "./config/Storage.ts"
import { type SyncConfig, syncConfig } from "./config/Sync.ts"
import { duration } from "./config/Variables.ts"

export type { CallsConfig, DatabaseTarget, JobsConfig, PushConfig, RealtimeConfig, SyncConfig }

/** The resolved configuration. */
export interface AppConfigShape {
  readonly host: string
  readonly port: number
  readonly database: DatabaseTarget
  /** `./data` by default; `memory` keeps nothing on disk. */
  readonly dataDir: Option.Option<string>
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  readonly redisKeyPrefix: string
  readonly jwtSecret: Option.Option<Redacted.Redacted<string>>
  readonly jwtIssuer: string
  readonly accessTokenTtl: Duration.Duration
  readonly refreshTokenTtl: Duration.Duration
  /** scrypt cost as log2(N); 15 = 32 MiB of memory per hash. */
  readonly passwordHashCost: number
  readonly corsOrigins: ReadonlyArray<string>
  readonly hsts: boolean
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "json" | "pretty"
  readonly otlpEndpoint: Option.Option<string>
  readonly serviceName: string
  readonly bodyLimitBytes: number
  readonly requestTimeout: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  /** How often each process reloads every feature flag (a safety net under Bus invalidation). */
  readonly flagRefreshInterval: Duration.Duration
  /** Background jobs (docs/jobs.md). */
  readonly jobs: JobsConfig
  /** Web push (VAPID keys, failure handling). */
  readonly push: PushConfig
  /** How long before a lesson starts its participants get a reminder. */
  readonly lessonReminderLead: Duration.Duration
  /** Offline sync (docs/sync.md). */
  readonly sync: SyncConfig
  /** The WebSocket gateway, lesson rooms and presence (docs/protocol.md). */
  readonly realtime: RealtimeConfig
  /** Lesson calls (docs/calls.md). */
  readonly calls: CallsConfig
}

/**
 * The `Config` description of every variable (see `.env.example`). Fields are
 * listed in this order on purpose: when several variables are malformed, the
 * error names them in this order.
 */
export const appConfig: Config.Config<AppConfigShape> = Config.all({
  host: Http.host,
  port: Http.port,
  databaseUrl: Storage.databaseUrl,
  dataDir: Storage.dataDir,
  redisUrl: Storage.redisUrl,
  redisKeyPrefix: Storage.redisKeyPrefix,
  jwtSecret: Auth.jwtSecret,
  jwtIssuer: Auth.jwtIssuer,
  accessTokenTtl: Auth.accessTokenTtl,
  refreshTokenTtl: Auth.refreshTokenTtl,
  passwordHashCost: Auth.passwordHashCost,
  corsOrigins: Http.corsOrigins,
  hsts: Http.hsts,
  logLevel: Observability.logLevel,
  logFormat: Observability.logFormat,
  otlpEndpoint: Observability.otlpEndpoint,
  serviceName: Observability.serviceName,
  bodyLimitBytes: Http.bodyLimitBytes,
  requestTimeout: Http.requestTimeout,
  shutdownTimeout: Http.shutdownTimeout,
  flagRefreshInterval: duration("FLAG_REFRESH_INTERVAL", "30 seconds"),
  jobs: jobsConfig,
  push: pushConfig,
  lessonReminderLead: duration("LESSON_REMINDER_LEAD", "15 minutes"),
  sync: syncConfig,
  calls: callsConfig,
  realtime: realtimeConfig
}).pipe(
  Config.map(({ databaseUrl, dataDir, ...rest }) => ({ ...rest, ...Storage.resolveDatabase(databaseUrl, dataDir) }))
)

/**
 * One line naming each offending variable and the expected form, e.g.
 * `PORT: expected a whole number from 0 to 65535, got "abc"`.
 */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const lines = ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    orCase: (_, l: ReadonlyArray<string>, r: ReadonlyArray<string>) => [...l, ...r],
    invalidDataCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    missingDataCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    sourceUnavailableCase: (_, path, message) => [`${path.join(".")}: ${message}`],
    unsupportedCase: (_, path, message) => [`${path.join(".")}: ${message}`]
  })
  return [...new Set(lines)].join("; ")
}

/** The application configuration service. */
export class AppConfig extends Context.Tag("lectern/AppConfig")<AppConfig, AppConfigShape>() {
  /** Reads the configuration from the current `ConfigProvider` (the environment by default). */
  static readonly layer = Layer.effect(AppConfig, appConfig)

  /** Defaults plus overrides, for tests (no environment involved). */
  static readonly layerTest = (overrides: Partial<AppConfigShape> = {}) =>
    Layer.effect(
      AppConfig,
      Effect.map(
        Effect.orDieWith(
          Effect.withConfigProvider(appConfig, emptyProvider),
          (e) => new Cause.IllegalArgumentException(describeConfigError(e))
        ),
        (defaults): AppConfigShape => ({
          ...defaults,
          database: { _tag: "Embedded", dataDir: Option.none() },
          dataDir: Option.none(),
          passwordHashCost: 10,
          logLevel: LogLevel.Warning,
          ...overrides
        })
      )
    )
}

const emptyProvider = ConfigProvider.fromMap(new Map())
