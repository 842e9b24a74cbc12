/**
 * The VAPID key pair that identifies this server to push services:
 * `VAPID_PUBLIC_KEY`/`VAPID_PRIVATE_KEY` when set, otherwise a pair generated
 * once per data directory (`<dataDir>/vapid-keys.json`, mode 0600; a loud
 * warning), or per process when the data directory is `memory`. Browsers bind
 * their subscriptions to the public key: replacing it orphans every subscription.
 */
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import webpush from "web-push"
import { AppConfig } from "./AppConfig.ts"

/** The server's VAPID identity. */
export class VapidKeys extends Context.Tag("lectern/VapidKeys")<VapidKeys, {
  /** base64url, 65 bytes uncompressed P-256: the browsers' `applicationServerKey`. */
  readonly publicKey: string
  readonly privateKey: Redacted.Redacted<string>
  /** `mailto:` or `https:` contact for push services. */
  readonly subject: string
  readonly source: "env" | "file" | "ephemeral"
}>() {
  /** From `AppConfig` (env, data-dir file or ephemeral). */
  static readonly layer = Layer.effect(
    VapidKeys,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const subject = config.push.vapidSubject
      if (Option.isSome(config.push.vapidKeys)) {
        return { ...config.push.vapidKeys.value, subject, source: "env" as const }
      }
      if (Option.isNone(config.dataDir)) {
        // Nothing outlives this process with LECTERN_DATA_DIR=memory, subscriptions included.
        yield* Effect.logInfo("VAPID keys are not set: using a key pair for this process only")
        const fresh = webpush.generateVAPIDKeys()
        return { publicKey: fresh.publicKey, privateKey: Redacted.make(fresh.privateKey), subject, source: "ephemeral" as const }
      }
      const file = join(config.dataDir.value, "vapid-keys.json")
      const stored = yield* Effect.try({
        try: () => {
          if (existsSync(file)) return { keys: Schema.decodeUnknownSync(StoredKeys)(JSON.parse(readFileSync(file, "utf8"))), created: false }
          mkdirSync(config.dataDir.pipe(Option.getOrElse(() => ".")), { recursive: true })
          const keys = webpush.generateVAPIDKeys()
          writeFileSync(file, JSON.stringify(keys), { mode: 0o600 })
          return { keys, created: true }
        },
        catch: (cause) => new Error(`cannot read or create ${file}: ${String(cause)}`)
      }).pipe(Effect.orDie)
      yield* Effect.logWarning(
        `VAPID keys are not set: ${stored.created ? "generated" : "using"} a key pair in ${file}. ` +
          "Set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY in production (changing them orphans every push subscription)."
      )
      return {
        publicKey: stored.keys.publicKey,
        privateKey: Redacted.make(stored.keys.privateKey),
        subject,
        source: "file" as const
      }
    })
  )

  /** A fresh pair, for tests. */
  static readonly layerTest = Layer.sync(VapidKeys, () => {
    const keys = webpush.generateVAPIDKeys()
    return { publicKey: keys.publicKey, privateKey: Redacted.make(keys.privateKey), subject: "mailto:test@lectern.invalid", source: "ephemeral" as const }
  })
}

const StoredKeys = Schema.Struct({ publicKey: Schema.String, privateKey: Schema.String })
