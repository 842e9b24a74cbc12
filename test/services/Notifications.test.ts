import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Option, Schema, Stream } from "effect"
import { createECDH, randomBytes } from "node:crypto"
import { PushRecorder, PushSendFailure } from "../../src/layers/PushSender.ts"
import { RegisterPushSubscriptionRequest } from "../../src/schemas/Push.ts"
import { NotificationPreferences } from "../../src/services/NotificationPreferences.ts"
import { Notifications } from "../../src/services/Notifications.ts"
import { PushSubscriptions } from "../../src/services/PushSubscriptions.ts"
import { UserEvents } from "../../src/services/UserEvents.ts"
import { Users } from "../../src/services/Users.ts"
import { buildPayload, maxPayloadBytes } from "../../src/services/WebPush.ts"
import { eventually } from "../support/Jobs.ts"
import { jobsStack } from "../support/JobsStack.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

const newUser = Effect.gen(function*() {
  const users = yield* Users
  return yield* users.create({
    email: `n-${Math.random().toString(36).slice(2, 10)}@example.com`,
    password: "correct horse battery",
    role: "student"
  })
})

/** A syntactically real browser subscription (a P-256 key and an auth secret) at `endpoint`. */
export const browserSubscription = (endpoint: string) =>
  Schema.decodeUnknownSync(RegisterPushSubscriptionRequest)({
    endpoint,
    keys: {
      p256dh: createECDH("prime256v1").generateKeys().toString("base64url"),
      auth: randomBytes(16).toString("base64url")
    },
    device: "test browser"
  })

/** Waits until the recording sender has sent `n` messages (up to 10 s). */
const sentCount = (n: number) => Effect.flatMap(PushRecorder, (recorder) => eventually(recorder.sent, (sent) => sent.length >= n))

describe(`Notifications (${backendLabel})`, () => {
  it.layer(jobsStack({ config: { push: { vapidKeys: Option.none(), vapidSubject: "mailto:t@example.com", maxFailures: 3, allowHttpEndpoints: false } } }), liveStack)((it) => {
    it.scoped("notify stores the record, publishes it live with the unread count, and marking read lowers it", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const events = yield* UserEvents
        const user = yield* newUser
        const live = yield* events.follow(user.id)
        const created = yield* notifications.notify(user.id, {
          type: "homework.assigned",
          title: "Homework: chapter 3",
          body: "Due Friday",
          data: { lessonId: "l-1" }
        })
        const record = Option.getOrThrow(created)
        expect(record).toMatchObject({ type: "homework.assigned", title: "Homework: chapter 3", body: "Due Friday", readAt: null })
        const first = Chunk.toArray(yield* Stream.runCollect(Stream.take(live, 2)).pipe(Effect.timeout("3 seconds")))
        expect(first[0]).toMatchObject({
          type: "notification.created",
          data: { id: record.id, type: "homework.assigned", title: "Homework: chapter 3", data: { lessonId: "l-1" } }
        })
        expect(first[1]).toEqual({ type: "notifications.unread", data: { count: 1 } })
        expect(yield* notifications.unreadCount(user.id)).toBe(1)

        const read = yield* notifications.markRead(user.id, record.id)
        expect(read.readAt).not.toBeNull()
        const after = Chunk.toArray(yield* Stream.runCollect(Stream.take(live, 1)).pipe(Effect.timeout("3 seconds")))
        expect(after).toEqual([{ type: "notifications.unread", data: { count: 0 } }])
        expect(yield* notifications.unreadCount(user.id)).toBe(0)
        // Idempotent, and invisible to other users.
        expect((yield* notifications.markRead(user.id, record.id)).readAt).toEqual(read.readAt)
        const other = yield* newUser
        const denied = yield* Effect.flip(notifications.markRead(other.id, record.id))
        expect(denied._tag).toBe("NotificationNotFound")
      }))

    it.scoped("web push goes to each enabled device with the kind's TTL, urgency and topic", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const subscriptions = yield* PushSubscriptions
        const recorder = yield* PushRecorder
        const user = yield* newUser
        const before = (yield* recorder.sent).length
        const phone = yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}/phone`))
        yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}/laptop`))
        const created = yield* notifications.notify(user.id, {
          type: "lesson.reminder",
          title: "Algebra starts in 15 minutes",
          data: { lessonId: "abc" },
          collapseKey: "lesson:abc"
        })
        const sent = (yield* sentCount(before + 2)).slice(before)
        expect(sent.map((s) => s.target.endpoint).sort()).toEqual(
          [`https://push.example/${user.id}/laptop`, `https://push.example/${user.id}/phone`]
        )
        for (const message of sent) {
          expect(message.options).toMatchObject({ ttlSeconds: 900, urgency: "high" })
          expect(message.options.topic).toMatch(/^[A-Za-z0-9_-]{32}$/)
          expect(JSON.parse(message.payload)).toEqual({
            type: "lesson.reminder",
            title: "Algebra starts in 15 minutes",
            body: "",
            data: { lessonId: "abc" },
            notificationId: Option.getOrThrow(created).id
          })
        }
        const [listed] = (yield* subscriptions.list(user.id)).filter((s) => s.id === phone.id)
        yield* eventually(subscriptions.list(user.id), (all) => all.every((s) => s.lastSuccessAt !== null))
        expect(listed?.failureCount).toBe(0)
      }))

    it.scoped("preferences: push off sends no push; in-app off stores nothing but still pushes", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const preferences = yield* NotificationPreferences
        const subscriptions = yield* PushSubscriptions
        const recorder = yield* PushRecorder
        const sql = yield* SqlClient.SqlClient
        const user = yield* newUser
        yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}`))
        yield* preferences.update(user.id, {
          items: [{ type: "chat.message", push: false }, { type: "system", inApp: false }]
        })
        const prefs = yield* preferences.get(user.id)
        expect(prefs.items.find((p) => p.type === "chat.message")).toMatchObject({ inApp: true, push: false })
        expect(prefs.items.find((p) => p.type === "system")).toMatchObject({ inApp: false, push: true })
        const before = (yield* recorder.sent).length
        const chat = yield* notifications.notify(user.id, { type: "chat.message", title: "New message" })
        const system = yield* notifications.notify(user.id, { type: "system", title: "Maintenance tonight" })
        expect(Option.isSome(chat)).toBe(true)
        expect(Option.isNone(system)).toBe(true)
        const sent = (yield* sentCount(before + 1)).slice(before)
        yield* Effect.sleep("300 millis")
        expect((yield* recorder.sent).slice(before).map((s) => JSON.parse(s.payload).title)).toEqual(["Maintenance tonight"])
        expect(sent).toHaveLength(1)
        const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM notifications WHERE user_id = ${user.id}`
        expect(rows[0]?.n).toBe(1)
      }))

    it.scoped("410 deletes the subscription at once; 429 is retried after Retry-After; repeated 5xx disables it", () =>
      Effect.gen(function*() {
        const notifications = yield* Notifications
        const subscriptions = yield* PushSubscriptions
        const recorder = yield* PushRecorder
        const sql = yield* SqlClient.SqlClient
        const user = yield* newUser
        const gone = yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}/gone`))
        const busy = yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}/busy`))
        const down = yield* subscriptions.register(user.id, browserSubscription(`https://push.example/${user.id}/down`))
        const failure = (kind: PushSendFailure["kind"], status: number, retryAfter = Option.none<Duration.Duration>()) =>
          new PushSendFailure({ kind, status: Option.some(status), retryAfter, detail: `answered ${status}` })
        yield* recorder.script(gone.endpoint, [failure("gone", 410)])
        yield* recorder.script(busy.endpoint, [failure("throttled", 429, Option.some(Duration.millis(800)))])
        yield* recorder.script(down.endpoint, [failure("unavailable", 503, Option.some(Duration.millis(50))), failure("unavailable", 503, Option.some(Duration.millis(50))), failure("unavailable", 502, Option.some(Duration.millis(50)))])
        const before = (yield* recorder.sent).length
        yield* notifications.notify(user.id, { type: "system", title: "Hello" })

        // gone: deleted after one attempt, never retried.
        yield* eventually(subscriptions.list(user.id), (all) => !all.some((s) => s.id === gone.id))
        // busy: a second attempt no sooner than Retry-After, then success (recorded with the job's outcome).
        const runs = yield* eventually(
          sql<{ gapMs: number; outcomes: string }>`
            SELECT (extract(epoch FROM max(r.started_at) - min(r.finished_at)) * 1000)::float8 AS gap_ms,
                   string_agg(r.outcome, ',' ORDER BY r.id) AS outcomes
            FROM jobs j JOIN job_runs r ON r.job_id = j.id
            WHERE j.name = 'push.send' AND j.payload->>'subscriptionId' = ${busy.id}`,
          (rows) => rows[0]?.outcomes === "failed,completed"
        )
        expect(runs[0]?.gapMs).toBeGreaterThanOrEqual(790)
        expect((yield* subscriptions.list(user.id)).find((s) => s.id === busy.id)?.lastSuccessAt).not.toBeNull()
        // down: disabled after PUSH_MAX_FAILURES (3) failures in a row; its job is dead, not retried forever.
        const disabled = yield* eventually(subscriptions.list(user.id), (all) => all.some((s) => s.id === down.id && s.disabled))
        expect(disabled.find((s) => s.id === down.id)?.failureCount).toBe(3)
        const sentTo = (yield* recorder.sent).slice(before).map((s) => s.target.endpoint)
        expect(sentTo.filter((e) => e === gone.endpoint)).toHaveLength(1)
        expect(sentTo.filter((e) => e === busy.endpoint)).toHaveLength(2)
        expect(sentTo.filter((e) => e === down.endpoint)).toHaveLength(3)
      }))

    it.effect("payloads stay under 3 KB: data dropped first, then the body shortened", () =>
      Effect.sync(() => {
        const small = buildPayload({ type: "system", title: "t", body: "b", data: { k: 1 } })
        expect(JSON.parse(small)).toMatchObject({ body: "b", data: { k: 1 } })
        const huge = buildPayload({ type: "system", title: "t", body: "ü".repeat(5000), data: { blob: "x".repeat(5000) } })
        expect(Buffer.byteLength(huge)).toBeLessThanOrEqual(maxPayloadBytes)
        const parsed = JSON.parse(huge)
        expect(parsed).toMatchObject({ title: "t", data: {}, truncated: true })
        expect(parsed.body.length).toBeGreaterThan(500)
        expect(parsed.body.endsWith("…")).toBe(true)
      }))
  })
})
