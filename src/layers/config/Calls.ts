/** Lesson call variables (docs/calls.md): ICE/TURN, session lifetimes, size, log retention. */
import { Config, type Duration, Either, type Option, Redacted } from "effect"
import { duration, integerIn, invalid } from "./Variables.ts"

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

export const callsConfig: Config.Config<CallsConfig> = Config.all({
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
})
