/**
 * Readers for one configuration variable each: the accepted forms, the default,
 * and the message a malformed value fails with (`describeConfigError` prefixes
 * the variable's name, so every message reads as one line naming it).
 */
import { Config, ConfigError, Duration, Either, Option } from "effect"

/** A malformed value; the variable's name is added from the config path. */
export const invalid = (message: string) => ConfigError.InvalidData([], message)

/** A URL with one of `schemes`, trimmed. */
export const urlWithScheme = (name: string, schemes: ReadonlyArray<string>, example: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const trimmed = raw.trim()
      const ok = schemes.some((scheme) => trimmed.startsWith(`${scheme}://`)) && URL.canParse(trimmed)
      return ok
        ? Either.right(trimmed)
        : Either.left(invalid(`expected a ${schemes.join(" or ")} URL such as ${example}`))
    })
  )

/** true/false, also 1/0, yes/no, on/off (any case). */
export const bool = (name: string, fallback: boolean) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const v = raw.trim().toLowerCase()
      if (["1", "true", "yes", "on"].includes(v)) return Either.right(true)
      if (["0", "false", "no", "off"].includes(v)) return Either.right(false)
      return Either.left(invalid(`expected true or false, got "${raw}"`))
    }),
    Config.withDefault(fallback)
  )

/** A whole number from `min` to `max`. */
export const integerIn = (name: string, min: number, max: number, fallback: number) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const n = Number(raw.trim())
      return /^\d+$/.test(raw.trim()) && n >= min && n <= max
        ? Either.right(n)
        : Either.left(invalid(`expected a whole number from ${min} to ${max}, got "${raw}"`))
    }),
    Config.withDefault(fallback)
  )

/** A positive duration such as "15 minutes". */
export const duration = (name: string, fallback: Duration.DurationInput) =>
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
export const base64UrlKey = (name: string, bytes: number, what: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((raw) => {
      const value = raw.trim()
      const ok = /^[A-Za-z0-9_-]+$/.test(value) && Buffer.from(value, "base64url").length === bytes
      return ok ? Either.right(value) : Either.left(invalid(`expected ${what} (${bytes} bytes, base64url)`))
    })
  )
