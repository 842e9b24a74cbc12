/**
 * The key that signs access tokens: `JWT_SECRET` when set, otherwise a secret
 * generated once per data directory (kept in `<dataDir>/jwt-secret`, mode 0600),
 * or per process when the data directory is `memory`. Generation warns loudly.
 */
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { AppConfig } from "./AppConfig.ts"

/** The HMAC key for HS256 access tokens. */
export class JwtSecret extends Context.Tag("lectern/JwtSecret")<JwtSecret, {
  readonly key: Uint8Array
  /** Where the key came from, for the start-up log. */
  readonly source: "env" | "file" | "ephemeral"
}>() {
  /** From `AppConfig` (env, data-dir file or ephemeral). */
  static readonly layer = Layer.effect(
    JwtSecret,
    Effect.gen(function*() {
      const config = yield* AppConfig
      if (Option.isSome(config.jwtSecret)) {
        return { key: new TextEncoder().encode(Redacted.value(config.jwtSecret.value)), source: "env" as const }
      }
      if (Option.isNone(config.dataDir)) {
        yield* Effect.logWarning(
          "JWT_SECRET is not set: using a random secret for this process only; tokens die with it. Set JWT_SECRET in production."
        )
        return { key: randomBytes(48), source: "ephemeral" as const }
      }
      const file = join(config.dataDir.value, "jwt-secret")
      const key = yield* Effect.try({
        try: () => {
          if (existsSync(file)) return { key: Buffer.from(readFileSync(file, "utf8").trim(), "base64url"), created: false }
          mkdirSync(config.dataDir.pipe(Option.getOrElse(() => ".")), { recursive: true })
          const fresh = randomBytes(48)
          writeFileSync(file, fresh.toString("base64url"), { mode: 0o600 })
          return { key: fresh, created: true }
        },
        catch: (cause) => new Error(`cannot read or create ${file}: ${String(cause)}`)
      }).pipe(Effect.orDie)
      yield* Effect.logWarning(
        `JWT_SECRET is not set: ${key.created ? "generated" : "using"} a development secret in ${file}. ` +
          "Set JWT_SECRET (32+ characters) in production."
      )
      return { key: key.key, source: "file" as const }
    })
  )

  /** A fixed key, for tests. */
  static readonly layerTest = (secret = "test-secret-test-secret-test-secret!") =>
    Layer.succeed(JwtSecret, { key: new TextEncoder().encode(secret), source: "env" })
}
