/**
 * Sending one web push message to one subscription: encrypted (RFC 8291,
 * aes128gcm) and signed (VAPID) by `web-push`, posted with the platform
 * `HttpClient` (so it is traced and interruptible). The push service's answer is
 * classified for the caller: delivered, gone (404/410), throttled or unavailable
 * (429/5xx, with Retry-After), rejected (other 4xx) or a network failure.
 * `layerRecording` is the test double: it keeps every message and answers as told.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Context, Data, DateTime, Duration, Effect, Layer, Option, Redacted, Ref } from "effect"
import webpush from "web-push"
import { VapidKeys } from "./VapidKeys.ts"

/** Where to send: a browser's subscription. */
export interface PushTarget {
  readonly endpoint: string
  readonly p256dh: string
  readonly auth: string
}

/** How the push service should treat the message. */
export interface PushOptions {
  readonly ttlSeconds: number
  readonly urgency: "very-low" | "low" | "normal" | "high"
  /** Replaces an undelivered message with the same topic (≤ 32 base64url characters). */
  readonly topic?: string | undefined
}

/** Why a message was not accepted. */
export class PushSendFailure extends Data.TaggedError("PushSendFailure")<{
  /** gone: unsubscribed (404/410); throttled: 429; unavailable: 5xx; rejected: other 4xx; network: no answer. */
  readonly kind: "gone" | "throttled" | "unavailable" | "rejected" | "network"
  readonly status: Option.Option<number>
  readonly retryAfter: Option.Option<Duration.Duration>
  readonly detail: string
}> {
  override get message() {
    return `push ${this.kind}${Option.match(this.status, { onNone: () => "", onSome: (s) => ` (HTTP ${s})` })}: ${this.detail}`
  }
}

/** The push transport. */
export class PushSender extends Context.Tag("lectern/PushSender")<PushSender, {
  readonly send: (
    target: PushTarget,
    payload: string,
    options: PushOptions
  ) => Effect.Effect<{ readonly status: number }, PushSendFailure>
}>() {}

const maxRetryAfter = Duration.hours(1)

/** Parses `Retry-After` (seconds or an HTTP date), capped at an hour. */
export const parseRetryAfter = (value: string | undefined, now: DateTime.Utc): Option.Option<Duration.Duration> => {
  if (value === undefined) return Option.none()
  const trimmed = value.trim()
  const delay = /^\d+$/.test(trimmed)
    ? Option.some(Duration.seconds(Number(trimmed)))
    : Option.map(
      Option.filter(Option.some(Date.parse(trimmed)), (ms) => Number.isFinite(ms)),
      (ms) => Duration.millis(Math.max(0, ms - DateTime.toEpochMillis(now)))
    )
  return Option.map(delay, (d) => Duration.min(d, maxRetryAfter))
}

const classify = (status: number): PushSendFailure["kind"] =>
  status === 404 || status === 410 ? "gone" : status === 429 ? "throttled" : status >= 500 ? "unavailable" : "rejected"

/** `web-push` for the message, the platform HTTP client for the request. */
export const makeWebPush = Effect.gen(function*() {
  const keys = yield* VapidKeys
  // Push services are third parties: they get no trace context of ours.
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerPropagation(false))
  const vapidDetails = { subject: keys.subject, publicKey: keys.publicKey, privateKey: Redacted.value(keys.privateKey) }

  const send: PushSender["Type"]["send"] = (target, payload, options) =>
    Effect.gen(function*() {
      const details = yield* Effect.try({
        try: () =>
          webpush.generateRequestDetails(
            { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } },
            payload,
            {
              vapidDetails,
              TTL: options.ttlSeconds,
              urgency: options.urgency,
              contentEncoding: "aes128gcm",
              ...(options.topic === undefined ? {} : { topic: options.topic })
            }
          ),
        catch: (cause) =>
          new PushSendFailure({
            kind: "rejected",
            status: Option.none(),
            retryAfter: Option.none(),
            detail: `cannot encrypt for this subscription: ${cause instanceof Error ? cause.message : String(cause)}`
          })
      })
      const request = HttpClientRequest.post(details.endpoint).pipe(
        HttpClientRequest.setHeaders(details.headers),
        HttpClientRequest.bodyUint8Array(new Uint8Array(details.body), "application/octet-stream")
      )
      const response = yield* client.execute(request).pipe(
        Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => "no answer within 15 seconds" }),
        Effect.mapError((e) =>
          new PushSendFailure({
            kind: "network",
            status: Option.none(),
            retryAfter: Option.none(),
            detail: typeof e === "string" ? e : e.message
          })
        ),
        Effect.scoped
      )
      if (response.status >= 200 && response.status < 300) return { status: response.status }
      const now = yield* DateTime.now
      return yield* new PushSendFailure({
        kind: classify(response.status),
        status: Option.some(response.status),
        retryAfter: parseRetryAfter(response.headers["retry-after"], now),
        detail: `the push service answered ${response.status}`
      })
    }).pipe(Effect.withSpan("PushSender.send", { kind: "client", attributes: { "push.urgency": options.urgency } }))

  return { send } satisfies PushSender["Type"]
})

/** Real web push (needs `VapidKeys`). */
export const layerWebPush: Layer.Layer<PushSender, never, VapidKeys> = Layer.effect(PushSender, makeWebPush).pipe(
  Layer.provide(FetchHttpClient.layer)
)

/** One message the recording sender was asked to send. */
export interface RecordedPush {
  readonly target: PushTarget
  readonly payload: string
  readonly options: PushOptions
}

/** The recording double: what was sent, and how to answer next. */
export class PushRecorder extends Context.Tag("lectern/PushRecorder")<PushRecorder, {
  readonly sent: Effect.Effect<ReadonlyArray<RecordedPush>>
  /** Answers for `endpoint`, used in order (then success); a failure is returned as the send's error. */
  readonly script: (endpoint: string, answers: ReadonlyArray<PushSendFailure>) => Effect.Effect<void>
}>() {}

/** Records every message and answers 201, unless scripted otherwise (tests). */
export const layerRecording: Layer.Layer<PushSender | PushRecorder> = Layer.effectContext(
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<RecordedPush>>([])
    const scripts = yield* Ref.make(new Map<string, ReadonlyArray<PushSendFailure>>())
    const send: PushSender["Type"]["send"] = (target, payload, options) =>
      Effect.gen(function*() {
        yield* Ref.update(sent, (all) => [...all, { target, payload, options }])
        const next = yield* Ref.modify(scripts, (map) => {
          const queue = map.get(target.endpoint) ?? []
          const copy = new Map(map)
          copy.set(target.endpoint, queue.slice(1))
          return [queue[0], copy] as const
        })
        return next === undefined ? { status: 201 } : yield* Effect.fail(next)
      })
    const recorder: PushRecorder["Type"] = {
      sent: Ref.get(sent),
      script: (endpoint, answers) => Ref.update(scripts, (map) => new Map(map).set(endpoint, answers))
    }
    return Context.make(PushSender, { send }).pipe(Context.add(PushRecorder, recorder))
  })
)
