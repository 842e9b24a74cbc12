/**
 * Web push delivery through the job queue: `enqueue` turns a message for some
 * users into one `push.send` job per enabled subscription (so each device is
 * retried on its own), with the payload built once and kept under 3 KB. The job
 * sends it; a gone subscription is deleted at once, throttling and outages are
 * retried honouring Retry-After, and failures are counted per subscription.
 */
import { Duration, Effect, Either, Option, Schema } from "effect"
import { createHash } from "node:crypto"
import { PushSender } from "../layers/PushSender.ts"
import type { UserId } from "../schemas/Ids.ts"
import type { PushDelivery } from "../schemas/Notifications.ts"
import { PushSubscriptionId } from "../schemas/Push.ts"
import { JobPermanentFailure, JobRetryLater } from "./JobHandler.ts"
import { Jobs } from "./Jobs.ts"
import { PushSubscriptions } from "./PushSubscriptions.ts"

/** Largest payload we send (push services accept 4 KB of ciphertext; encryption adds ~100 bytes). */
export const maxPayloadBytes = 3072

/** What a device receives (JSON), for its service worker to show. */
export interface PushMessage {
  readonly type: string
  readonly title: string
  readonly body: string
  readonly data: Readonly<Record<string, unknown>>
  readonly notificationId?: string | undefined
  /** Messages with the same key replace each other while undelivered (when the kind collapses). */
  readonly collapseKey?: string | undefined
}

const bytes = (s: string) => Buffer.byteLength(s, "utf8")

/** The JSON payload, shrunk to fit: data dropped first, then the body shortened. */
export const buildPayload = (message: PushMessage): string => {
  const wire = { type: message.type, title: message.title.slice(0, 200), body: message.body, data: message.data, notificationId: message.notificationId }
  let json = JSON.stringify(wire)
  if (bytes(json) <= maxPayloadBytes) return json
  const lean = { ...wire, data: {}, truncated: true }
  json = JSON.stringify(lean)
  let body = message.body
  while (bytes(json) > maxPayloadBytes && body.length > 0) {
    body = body.slice(0, Math.max(0, Math.floor(body.length * 0.8) - 1))
    json = JSON.stringify({ ...lean, body: `${body}…` })
  }
  return json
}

/** The `Topic` header for a collapse key: 32 base64url characters. */
export const topicFor = (collapseKey: string) => createHash("sha256").update(collapseKey).digest("base64url").slice(0, 32)

const PushJob = Schema.Struct({
  subscriptionId: PushSubscriptionId,
  payload: Schema.String,
  ttlSeconds: Schema.Number,
  urgency: Schema.Literal("very-low", "low", "normal", "high"),
  topic: Schema.NullOr(Schema.String)
})

/** Web push through the queue. */
export class WebPush extends Effect.Service<WebPush>()("lectern/WebPush", {
  effect: Effect.gen(function*() {
    const jobs = yield* Jobs
    const subscriptions = yield* PushSubscriptions
    const sender = yield* PushSender

    const deliver = (job: typeof PushJob.Type) =>
      Effect.gen(function*() {
        const found = yield* subscriptions.find(job.subscriptionId)
        if (Option.isNone(found) || found.value.disabled) {
          return yield* Effect.logDebug("push skipped: subscription removed or disabled")
        }
        const sent = yield* Effect.either(sender.send(found.value, job.payload, {
          ttlSeconds: job.ttlSeconds,
          urgency: job.urgency,
          topic: job.topic ?? undefined
        }))
        if (Either.isRight(sent)) return yield* subscriptions.recordSuccess(job.subscriptionId)
        const failure = sent.left
        if (failure.kind === "gone") {
          yield* subscriptions.forget(job.subscriptionId)
          return yield* Effect.logInfo("push subscription gone; deleted").pipe(
            Effect.annotateLogs({ subscription_id: job.subscriptionId })
          )
        }
        const counted = yield* subscriptions.recordFailure(job.subscriptionId, failure.message)
        if (Option.isSome(counted) && counted.value.disabled) {
          return yield* new JobPermanentFailure({
            reason: `${failure.message}; subscription disabled after ${counted.value.failureCount} failures in a row`
          })
        }
        if (failure.kind === "rejected") return yield* new JobPermanentFailure({ reason: failure.message })
        return yield* Option.match(failure.retryAfter, {
          onNone: () => Effect.fail(failure),
          onSome: (after) => Effect.fail(new JobRetryLater({ after, reason: failure.message }))
        })
      }).pipe(Effect.annotateLogs({ subscription_id: job.subscriptionId }))

    const pushJob = yield* jobs.registerJob("push.send", PushJob, deliver, {
      queue: "push",
      maxAttempts: 8,
      timeout: "30 seconds",
      backoff: { base: Duration.seconds(5), factor: 3, max: Duration.hours(1) }
    })

    /**
     * Queues `message` for every enabled subscription of `userIds` (one job each);
     * inside a transaction the jobs exist only if it commits. Returns how many.
     */
    const enqueue = (userIds: ReadonlyArray<UserId>, message: PushMessage, delivery: PushDelivery) =>
      Effect.gen(function*() {
        const targets = yield* subscriptions.activeFor(userIds)
        if (targets.length === 0) return 0
        const payload = buildPayload(message)
        const topic = delivery.collapse && message.collapseKey !== undefined ? topicFor(message.collapseKey) : null
        const queued = yield* pushJob.enqueueMany(targets.map((target) => ({
          payload: { subscriptionId: target.id, payload, ttlSeconds: delivery.ttlSeconds, urgency: delivery.urgency, topic }
        })))
        return queued.length
      }).pipe(Effect.withSpan("WebPush.enqueue", { attributes: { "push.type": message.type } }))

    /** A test message to every enabled device of `userId`. */
    const test = (userId: UserId) =>
      enqueue([userId], {
        type: "push.test",
        title: "Lectern test notification",
        body: "Push notifications work on this device.",
        data: {}
      }, { ttlSeconds: 300, urgency: "normal", collapse: false })

    return { enqueue, test } as const
  })
}) {}
