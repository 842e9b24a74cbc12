/**
 * Web push on the wire: a browser's subscription as it registers it (the
 * `PushSubscription.toJSON()` shape plus a device label), the subscription as
 * the API shows it back, the VAPID public key, the test push result, errors.
 */
import { Schema } from "effect"
import { RequestFields } from "./Request.ts"

/** A push subscription's id. */
export const PushSubscriptionId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { message: () => "expected a UUID" }),
  Schema.brand("PushSubscriptionId")
).annotations({ identifier: "PushSubscriptionId" })
/** @see PushSubscriptionId */
export type PushSubscriptionId = typeof PushSubscriptionId.Type

const base64UrlBytes = (bytes: number, what: string) =>
  Schema.String.pipe(
    Schema.filter((s) => /^[A-Za-z0-9_-]+=*$/.test(s) && Buffer.from(s, "base64url").length === bytes, {
      message: () => `expected ${what} (${bytes} bytes, base64url)`
    })
  )

/** The subscription's endpoint: an absolute https URL of the push service (http only when allowed by config). */
export const PushEndpoint = Schema.String.pipe(
  Schema.maxLength(2048, { message: () => "at most 2048 characters" }),
  Schema.filter((s) => URL.canParse(s) && ["https:", "http:"].includes(new URL(s).protocol), {
    message: () => "expected an https URL"
  })
)

/** Register (or refresh) this device's subscription. */
export class RegisterPushSubscriptionRequest
  extends Schema.Class<RegisterPushSubscriptionRequest>("RegisterPushSubscriptionRequest")(RequestFields({
    endpoint: PushEndpoint,
    keys: RequestFields({
      p256dh: base64UrlBytes(65, "the subscription's P-256 public key"),
      auth: base64UrlBytes(16, "the subscription's auth secret")
    }),
    device: Schema.optional(Schema.Trim.pipe(Schema.maxLength(100, { message: () => "at most 100 characters" })))
      .annotations({ description: "A label for the device, shown in the list (e.g. \"Firefox on laptop\")" })
  }))
{}

/** A registered subscription (keys are never shown back). */
export class PushSubscription extends Schema.Class<PushSubscription>("PushSubscription")({
  id: PushSubscriptionId,
  endpoint: Schema.String,
  device: Schema.String,
  createdAt: Schema.DateTimeUtc,
  lastSuccessAt: Schema.NullOr(Schema.DateTimeUtc),
  /** Delivery failures since the last success. */
  failureCount: Schema.Number,
  /** Disabled after repeated failures; registering the same endpoint again re-enables it. */
  disabled: Schema.Boolean
}) {}

/** The caller's subscriptions. */
export class PushSubscriptionList extends Schema.Class<PushSubscriptionList>("PushSubscriptionList")({
  items: Schema.Array(PushSubscription)
}) {}

/** The application server key browsers subscribe with (`applicationServerKey`). */
export class VapidPublicKey extends Schema.Class<VapidPublicKey>("VapidPublicKey")({
  publicKey: Schema.String
}) {}

/** `POST /push/test`: how many of the caller's devices a test push was queued for. */
export class PushTestResult extends Schema.Class<PushTestResult>("PushTestResult")({
  queued: Schema.Number
}) {}

/** No push subscription with this id belongs to the caller. */
export class PushSubscriptionNotFound extends Schema.TaggedError<PushSubscriptionNotFound>()(
  "PushSubscriptionNotFound",
  { subscriptionId: Schema.optional(Schema.String) }
) {
  readonly code = "PUSH_SUBSCRIPTION_NOT_FOUND" as const
  override get message() {
    return "No push subscription with this id is yours"
  }
}
