/**
 * The server's whole configuration, read once through Effect `Config` (never
 * from `process.env` directly). Absent variables fall back to the embedded
 * defaults; a malformed one fails start-up with a line naming it and the
 * expected form (see `describeConfigError`).
 */
import { Cause, Config, ConfigError, ConfigProvider, Context, Cron, Duration, Effect, Either, Layer, LogLevel, Option, Redacted } from "effect"

/** Where the database lives: a Postgres URL, or embedded PGlite on disk or in memory. */
export type DatabaseTarget =
  | { readonly _tag: "Postgres"; readonly url: Redacted.Redacted<string> }
  | {
    readonly _tag: "Embedded"
    readonly dataDir: Option.Option<string>
    /**
     * A `PGlite.dumpDataDir` file an in-memory database starts as a copy of (the test
     * suite's pre-migrated template); ignored on disk, never read from the environment.
     */
    readonly template?: string
  }

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

/** Call signaling settings. */
export interface CallsConfig {
  /** STUN/TURN URLs handed to clients (`stun:`, `turn:`, `turns:`). */
  readonly iceUrls: ReadonlyArray<string>
  /** Shared secret of the TURN server's REST API (coturn `static-auth-secret`); none: no TURN credentials. */
  readonly turnSecret: Option.Option<Redacted.Redacted<string>>
  /** Lifetime of issued TURN credentials. */
  readonly turnTtl: Duration.Duration
  /** Longest a session may live. */
  readonly maxLifetime: Duration.Duration
  /** A session nobody is in ends after this long. */
  readonly emptyTimeout: Duration.Duration
  /** A session that never had two people in it ends after this long. */
  readonly idleTimeout: Duration.Duration
  /** Most people (any role) in one call. */
  readonly maxParticipants: number
  /** Signaling log entries are deleted after this long. */
  readonly logRetention: Duration.Duration
}

/** Offline sync settings. */
export interface SyncConfig {
  /** A pull checkpoint older than this gets a reset answer. */
  readonly checkpointMaxAge: Duration.Duration
  /** A lesson further behind than this many room events is reset (snapshot) instead of replayed (at most RoomLog's recovery cap). */
  readonly pullEventsLimit: number
}

/** Realtime settings. */
export interface RealtimeConfig {
  /** A new socket must send its `connect` frame within this time. */
  readonly authTimeout: Duration.Duration
  /** How often clients are told to ping. */
  readonly pingInterval: Duration.Duration
  /** Silence after which a connection is closed with 4008. */
  readonly pingTimeout: Duration.Duration
  /** Largest inbound frame, in bytes. */
  readonly maxFrameBytes: number
  /** Bytes a connection may have queued for sending before it is closed as a slow consumer. */
  readonly outboundLimitBytes: number
  /** Commands per second per connection (sustained) and the burst allowed on top. */
  readonly commandRate: number
  readonly commandBurst: number
  /** Malformed frames tolerated in a burst (refilled at 2/s) before a policy close (4502). */
  readonly malformedBurst: number
  /** How long a lesson room with no local subscriber stays loaded. */
  readonly roomIdleTtl: Duration.Duration
  /** Recent durable events each room keeps in memory for recovery. */
  readonly roomRingSize: number
  /** A presence entry expires this long after its last heartbeat (ghost removal after a crash). */
  readonly presenceTtl: Duration.Duration
}

/** Background job settings. */
export interface JobsConfig {
  /** Run a worker pool inside `lectern serve`. */
  readonly inProcess: boolean
  readonly concurrency: number
  readonly batchSize: number
  readonly pollInterval: Duration.Duration
  readonly lease: Duration.Duration
  readonly shutdownTimeout: Duration.Duration
  /** Completed and cancelled jobs (and their runs) are deleted after this long. */
  readonly retention: Duration.Duration
  /** Dead jobs are kept longer, for inspection and retry. */
  readonly deadRetention: Duration.Duration
  /** Cron (UTC) of the retention job. */
  readonly pruneCron: string
}

/** Web push settings. */
export interface PushConfig {
  /** VAPID key pair (base64url) from the environment; generated when absent (see `VapidKeys`). */
  readonly vapidKeys: Option.Option<{ readonly publicKey: string; readonly privateKey: Redacted.Redacted<string> }>
  /** `mailto:` or `https:` contact sent to push services. */
  readonly vapidSubject: string
  /** Consecutive failures after which a subscription is disabled. */
  readonly maxFailures: number
  /** Accept `http:` push endpoints (only for local push-service emulators). */
  readonly allowHttpEndpoints: boolean
}

const invalid = (message: string) => ConfigError.InvalidData([], message)

const urlWithScheme = (name: string, schemes: ReadonlyArray<string>, example: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const trimmed = raw.trim()
      const ok = schemes.some((scheme) => trimmed.startsWith(`${scheme}://`)) && URL.canParse(trimmed)
      return ok
        ? Either.right(trimmed)
        : Either.left(invalid(`expected a ${schemes.join(" or ")} URL such as ${example}`))
    })
  )

const bool = (name: string, fallback: boolean) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const v = raw.trim().toLowerCase()
      if (["1", "true", "yes", "on"].includes(v)) return Either.right(true)
      if (["0", "false", "no", "off"].includes(v)) return Either.right(false)
      return Either.left(invalid(`expected true or false, got "${raw}"`))
    }),
    Config.withDefault(fallback)
  )

const integerIn = (name: string, min: number, max: number, fallback: number) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const n = Number(raw.trim())
      return /^\d+$/.test(raw.trim()) && n >= min && n <= max
        ? Either.right(n)
        : Either.left(invalid(`expected a whole number from ${min} to ${max}, got "${raw}"`))
    }),
    Config.withDefault(fallback)
  )

const duration = (name: string, fallback: Duration.DurationInput) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const decoded = Duration.decodeUnknown(raw.trim())
      return Option.match(decoded, {
        onNone: () => Either.left(invalid(`expected a duration such as "15 minutes" or "30 seconds", got "${raw}"`)),
        onSome: (d) => Duration.greaterThan(d, Duration.zero) ? Either.right(d) : Either.left(invalid("must be > 0"))
      })
    }),
    Config.withDefault(Duration.decode(fallback))
  )

/** A base64url value that decodes to `bytes` bytes (VAPID keys). */
const base64UrlKey = (name: string, bytes: number, what: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const value = raw.trim()
      const ok = /^[A-Za-z0-9_-]+$/.test(value) && Buffer.from(value, "base64url").length === bytes
      return ok ? Either.right(value) : Either.left(invalid(`expected ${what} (${bytes} bytes, base64url)`))
    })
  )

const logLevels = ["trace", "debug", "info", "warning", "error", "fatal", "none"] as const

/** The `Config` description of every variable (see `.env.example`). */
export const appConfig: Config.Config<AppConfigShape> = Config.all({
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: integerIn("PORT", 0, 65535, 8080),
  databaseUrl: Config.option(urlWithScheme("DATABASE_URL", ["postgres", "postgresql"], "postgres://user@host:5432/db")),
  dataDir: Config.string("LECTERN_DATA_DIR").pipe(Config.withDefault("./data")),
  redisUrl: Config.option(
    Config.map(urlWithScheme("REDIS_URL", ["redis", "rediss"], "redis://127.0.0.1:6379"), (url) => Redacted.make(url))
  ),
  redisKeyPrefix: Config.string("REDIS_KEY_PREFIX").pipe(Config.withDefault("lectern:")),
  jwtSecret: Config.option(
    Config.string("JWT_SECRET").pipe(
      Config.mapOrFail((raw) =>
        raw.length >= 32
          ? Either.right(Redacted.make(raw))
          : Either.left(invalid("expected at least 32 characters (e.g. `openssl rand -base64 48`)"))
      )
    )
  ),
  jwtIssuer: Config.string("JWT_ISSUER").pipe(Config.withDefault("lectern")),
  accessTokenTtl: duration("ACCESS_TOKEN_TTL", "15 minutes"),
  refreshTokenTtl: duration("REFRESH_TOKEN_TTL", "30 days"),
  passwordHashCost: integerIn("PASSWORD_HASH_COST", 10, 20, 15),
  corsOrigins: Config.string("CORS_ORIGINS").pipe(
    Config.mapOrFail((raw) => {
      const origins = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
      const bad = origins.find((o) => o !== "*" && !(URL.canParse(o) && new URL(o).origin === o))
      return bad === undefined
        ? Either.right(origins)
        : Either.left(invalid(`expected comma-separated origins such as https://app.example.com, got "${bad}"`))
    }),
    Config.withDefault<ReadonlyArray<string>>([])
  ),
  hsts: bool("HSTS_ENABLED", false),
  logLevel: Config.string("LOG_LEVEL").pipe(
    Config.mapOrFail((raw) => {
      const v = raw.trim().toLowerCase()
      const match = logLevels.find((l) => l === v || (v === "warn" && l === "warning"))
      return match === undefined
        ? Either.left(invalid(`expected one of ${logLevels.join(", ")}, got "${raw}"`))
        : Either.right(LogLevel.fromLiteral(match === "warning" ? "Warning" : capitalize(match)))
    }),
    Config.withDefault(LogLevel.Info)
  ),
  logFormat: Config.string("LOG_FORMAT").pipe(
    Config.mapOrFail((raw): Either.Either<"json" | "pretty", ConfigError.ConfigError> =>
      raw === "json" || raw === "pretty"
        ? Either.right(raw)
        : Either.left(invalid(`expected json or pretty, got "${raw}"`))
    ),
    Config.withDefault<"json" | "pretty">("json")
  ),
  otlpEndpoint: Config.option(urlWithScheme("OTEL_EXPORTER_OTLP_ENDPOINT", ["http", "https"], "http://127.0.0.1:4318")),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("lectern")),
  bodyLimitBytes: integerIn("BODY_LIMIT_BYTES", 1024, 64 * 1024 * 1024, 1024 * 1024),
  requestTimeout: duration("REQUEST_TIMEOUT", "30 seconds"),
  shutdownTimeout: duration("SHUTDOWN_TIMEOUT", "8 seconds"),
  flagRefreshInterval: duration("FLAG_REFRESH_INTERVAL", "30 seconds"),
  jobs: Config.all({
    inProcess: bool("WORKERS_IN_PROCESS", true),
    concurrency: integerIn("JOBS_CONCURRENCY", 1, 1000, 10),
    batchSize: integerIn("JOBS_BATCH_SIZE", 1, 1000, 50),
    pollInterval: duration("JOBS_POLL_INTERVAL", "2 seconds"),
    lease: duration("JOBS_LEASE", "30 seconds"),
    shutdownTimeout: duration("JOBS_SHUTDOWN_TIMEOUT", "5 seconds"),
    retention: duration("JOBS_RETENTION", "7 days"),
    deadRetention: duration("JOBS_DEAD_RETENTION", "30 days"),
    pruneCron: Config.string("JOBS_PRUNE_CRON").pipe(
      Config.mapOrFail((raw) =>
        Either.match(Cron.parse(raw.trim(), "UTC"), {
          onLeft: (e) => Either.left(invalid(`expected a cron expression such as "*/15 * * * *": ${e.message}`)),
          onRight: () => Either.right(raw.trim())
        })
      ),
      Config.withDefault("*/15 * * * *")
    )
  }),
  push: Config.all({
    vapidPublicKey: Config.option(base64UrlKey("VAPID_PUBLIC_KEY", 65, "an uncompressed P-256 public key")),
    vapidPrivateKey: Config.option(Config.redacted(base64UrlKey("VAPID_PRIVATE_KEY", 32, "a P-256 private key"))),
    vapidSubject: Config.string("VAPID_SUBJECT").pipe(
      Config.mapOrFail((raw) =>
        /^(mailto:\S+@\S+|https:\/\/\S+)$/.test(raw.trim())
          ? Either.right(raw.trim())
          : Either.left(invalid(`expected mailto:you@example.com or an https:// URL, got "${raw}"`))
      ),
      Config.withDefault("mailto:admin@lectern.invalid")
    ),
    maxFailures: integerIn("PUSH_MAX_FAILURES", 1, 1000, 5),
    allowHttpEndpoints: bool("PUSH_ALLOW_HTTP_ENDPOINTS", false)
  }).pipe(
    Config.mapOrFail(({ vapidPrivateKey, vapidPublicKey, ...rest }) => {
      if (Option.isSome(vapidPublicKey) !== Option.isSome(vapidPrivateKey)) {
        return Either.left(
          ConfigError.InvalidData(["VAPID_PRIVATE_KEY"], "VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY must be set together")
        )
      }
      const vapidKeys = Option.zipWith(vapidPublicKey, vapidPrivateKey, (publicKey, privateKey) => ({ publicKey, privateKey }))
      return Either.right({ ...rest, vapidKeys })
    })
  ),
  lessonReminderLead: duration("LESSON_REMINDER_LEAD", "15 minutes"),
  sync: Config.all({
    checkpointMaxAge: duration("SYNC_CHECKPOINT_MAX_AGE", "30 days"),
    pullEventsLimit: integerIn("SYNC_PULL_EVENTS_LIMIT", 10, 1_000, 500)
  }),
  calls: Config.all({
    iceUrls: Config.string("CALL_ICE_URLS").pipe(
      Config.mapOrFail((raw) => {
        const urls = raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
        const bad = urls.find((u) => !/^(stun|stuns|turn|turns):[^\s,]+$/.test(u))
        return bad === undefined
          ? Either.right(urls)
          : Either.left(invalid(`expected comma-separated stun:/turn:/turns: URLs, got "${bad}"`))
      }),
      Config.withDefault<ReadonlyArray<string>>([])
    ),
    turnSecret: Config.option(
      Config.string("CALL_TURN_SECRET").pipe(
        Config.mapOrFail((raw) =>
          raw.length >= 16
            ? Either.right(Redacted.make(raw))
            : Either.left(invalid("expected at least 16 characters (the TURN server's static-auth-secret)"))
        )
      )
    ),
    turnTtl: duration("CALL_TURN_TTL", "6 hours"),
    maxLifetime: duration("CALL_MAX_LIFETIME", "4 hours"),
    emptyTimeout: duration("CALL_EMPTY_TIMEOUT", "2 minutes"),
    idleTimeout: duration("CALL_IDLE_TIMEOUT", "15 minutes"),
    maxParticipants: integerIn("CALL_MAX_PARTICIPANTS", 2, 50, 10),
    logRetention: duration("CALL_LOG_RETENTION", "30 days")
  }),
  realtime: Config.all({
    authTimeout: duration("WS_AUTH_TIMEOUT", "10 seconds"),
    pingInterval: duration("WS_PING_INTERVAL", "20 seconds"),
    pingTimeout: duration("WS_PING_TIMEOUT", "50 seconds"),
    maxFrameBytes: integerIn("WS_MAX_FRAME_BYTES", 1024, 16 * 1024 * 1024, 64 * 1024),
    outboundLimitBytes: integerIn("WS_OUTBOUND_LIMIT_BYTES", 16 * 1024, 256 * 1024 * 1024, 4 * 1024 * 1024),
    commandRate: integerIn("WS_COMMAND_RATE", 1, 100_000, 50),
    commandBurst: integerIn("WS_COMMAND_BURST", 1, 100_000, 100),
    malformedBurst: integerIn("WS_MALFORMED_BURST", 1, 100_000, 20),
    roomIdleTtl: duration("ROOM_IDLE_TTL", "30 seconds"),
    roomRingSize: integerIn("ROOM_RING_SIZE", 0, 100_000, 512),
    presenceTtl: duration("PRESENCE_TTL", "15 seconds")
  })
}).pipe(
  Config.map(({ databaseUrl, dataDir, ...rest }) => {
    const dir = dataDir.trim() === "memory" ? Option.none() : Option.some(dataDir.trim())
    const database: DatabaseTarget = Option.match(databaseUrl, {
      onNone: () => ({ _tag: "Embedded", dataDir: dir }),
      onSome: (url) => ({ _tag: "Postgres", url: Redacted.make(url) })
    })
    return { ...rest, database, dataDir: dir }
  })
)

function capitalize<S extends "trace" | "debug" | "info" | "error" | "fatal" | "none">(s: S) {
  const map = { trace: "Trace", debug: "Debug", info: "Info", error: "Error", fatal: "Fatal", none: "None" } as const
  return map[s]
}

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
