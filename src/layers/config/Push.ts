/** Web push variables: the VAPID key pair (both or neither), the contact subject, failure handling. */
import { Config, ConfigError, Either, Option, type Redacted } from "effect"
import { base64UrlKey, bool, integerIn, invalid } from "./Variables.ts"

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

export const pushConfig: Config.Config<PushConfig> = Config.all({
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
)
