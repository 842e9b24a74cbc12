import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { NodeWebSocket } from "../../src/client/NodeWebSocket.ts"
import { type ChannelEvent, make, type RealtimeClient } from "../../src/client/RealtimeClient.ts"
import { Lessons } from "../../src/services/Lessons.ts"
import { link, scheduleLesson, signedIn } from "../support/Seed.ts"
import { backendLabel, baseUrl, liveStack, serverStack } from "../support/TestStack.ts"
import { netProxy } from "../support/NetProxy.ts"
import { appendEvent, appendPrunedUnread } from "../support/Room.ts"

const client = (token: string, url?: string) =>
  Effect.gen(function*() {
    const base = url ?? `${(yield* baseUrl).replace("http", "ws")}/ws`
    return yield* make({ url: base, token: () => token, WebSocket: NodeWebSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } })
  })

/** A tutor, their student Ann and a lesson of theirs, with its channel name. */
const tutorAndStudent = Effect.gen(function*() {
  const [tutor, ann] = yield* Effect.all([signedIn("tutor"), signedIn("student")])
  yield* link(tutor.user.id, ann.user.id)
  const lesson = yield* scheduleLesson(tutor.user.id, [ann.user.id])
  return { tutor, ann, lesson, channel: `lesson:${lesson.id}` }
})

/** Collects a channel's events. */
const inbox = () => {
  const events: Array<ChannelEvent> = []
  return { events, onEvent: (e: ChannelEvent) => void events.push(e) }
}

const until = (check: () => boolean, what: string) =>
  Effect.repeat(Effect.sync(check), { until: (ok) => ok, schedule: Schedule.spaced("20 millis") }).pipe(
    Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error(`timed out waiting for ${what}`) }),
    Effect.orDie
  )

describe(`RealtimeClient end to end (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("two students and a tutor chat and draw; a stranger is FORBIDDEN; a non-author student cannot edit", () =>
      Effect.gen(function*() {
        const [tutor, ann, ben, eve] = yield* Effect.all([
          signedIn("tutor", { displayName: "Tess Tutor" }),
          signedIn("student", { displayName: "Ann" }),
          signedIn("student", { displayName: "Ben" }),
          signedIn("student", { displayName: "Eve" })
        ])
        yield* link(tutor.user.id, ann.user.id)
        yield* link(tutor.user.id, ben.user.id)
        const lesson = yield* scheduleLesson(tutor.user.id, [ann.user.id, ben.user.id])
        const channel = `lesson:${lesson.id}`
        const [t, a, b, e] = yield* Effect.all([client(tutor.token), client(ann.token), client(ben.token), client(eve.token)])
        const inboxes = { t: inbox(), a: inbox(), b: inbox(), e: inbox() }
        yield* t.subscribe(channel, inboxes.t.onEvent)
        yield* a.subscribe(channel, inboxes.a.onEvent)
        yield* b.subscribe(channel, inboxes.b.onEvent)
        const refused = yield* Effect.flip(e.subscribe(channel, inboxes.e.onEvent))
        expect(refused.code).toBe("FORBIDDEN")

        const sent = (yield* a.command(channel, "chat.send", { body: "Hi all", clientMessageId: "a-1" })) as {
          message: { id: string; authorName: string; seq: number }
          duplicate: boolean
        }
        expect(sent).toMatchObject({ duplicate: false, message: { authorName: "Ann", body: "Hi all" } })
        // A retry with the same client id is a duplicate, not a second message.
        expect(yield* a.command(channel, "chat.send", { body: "Hi all", clientMessageId: "a-1" })).toMatchObject({ duplicate: true })
        yield* t.command(channel, "chat.send", { body: "Welcome" })
        const op = yield* b.command(channel, "board.op", { kind: "add", elementId: "rect-1", props: { w: 10 } })
        expect(op).toMatchObject({ outcome: "applied", element: { id: "rect-1", props: { w: 10 } } })

        const forbiddenEdit = yield* Effect.flip(b.command(channel, "chat.edit", { messageId: sent.message.id, body: "hacked" }))
        expect(forbiddenEdit.code).toBe("FORBIDDEN")
        yield* t.command(channel, "chat.edit", { messageId: sent.message.id, body: "Hi all (edited by tutor)" })
        const invalid = yield* Effect.flip(a.command(channel, "chat.send", { body: "" }))
        expect(invalid).toMatchObject({ code: "VALIDATION_ERROR", fields: { body: expect.any(String) } })

        const durable = (box: ReturnType<typeof inbox>) => box.events.filter((ev) => (ev.seq ?? 0) > 0)
        for (const box of [inboxes.t, inboxes.a, inboxes.b]) {
          yield* until(() => durable(box).length === 4, "four durable events")
          expect(durable(box).map((ev) => ev.type)).toEqual(["chat.created", "chat.created", "board.op", "chat.edited"])
          expect(durable(box).map((ev) => ev.seq)).toEqual([1, 2, 3, 4])
        }
        expect(inboxes.e.events).toEqual([])
      }))

    it.scoped("after its network drops the client reconnects, recovers the missed events in order, then gets live ones", () =>
      Effect.gen(function*() {
        const { ann, lesson, channel } = yield* tutorAndStudent
        const port = Number(new URL(yield* baseUrl).port)
        const net = yield* netProxy(port)
        const statuses: Array<string> = []
        const box = inbox()
        const a = yield* make({
          url: `ws://127.0.0.1:${net.port}/ws`,
          token: () => ann.token,
          WebSocket: NodeWebSocket,
          reconnect: { initialDelayMs: 300, maxDelayMs: 600 },
          onStatus: (s) => void statuses.push(s._tag)
        })
        yield* a.subscribe(channel, box.onEvent)
        yield* appendEvent(lesson.id, "chat.created", { n: 1 })
        yield* until(() => box.events.some((ev) => ev.seq === 1), "first event")
        net.cut()
        for (let n = 2; n <= 51; n++) yield* appendEvent(lesson.id, "chat.created", { n })
        yield* until(() => box.events.some((ev) => ev.seq === 51), "recovered events")
        yield* appendEvent(lesson.id, "chat.created", { n: 52 })
        yield* until(() => box.events.some((ev) => ev.seq === 52), "live event")
        expect(box.events.filter((ev) => (ev.seq ?? 0) > 0).map((ev) => ev.seq)).toEqual(Array.from({ length: 52 }, (_, i) => i + 1))
        expect(statuses.slice(0, 3)).toEqual(["Connected", "Disconnected", "Connected"])
        expect(a.position(channel)?.seq).toBe(52)
      }))

    it.scoped("a command while the server is unreachable fails with TIMEOUT in its time; after the network returns commands work", () =>
      Effect.gen(function*() {
        const { ann, channel } = yield* tutorAndStudent
        const net = yield* netProxy(Number(new URL(yield* baseUrl).port))
        const statuses: Array<string> = []
        const a = yield* make({
          url: `ws://127.0.0.1:${net.port}/ws`,
          token: () => ann.token,
          WebSocket: NodeWebSocket,
          reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
          commandTimeoutMs: 1_000,
          onStatus: (s) => void statuses.push(s._tag)
        })
        yield* a.subscribe(channel, () => {})
        net.setDown(true)
        net.cut()
        // Once the client knows (a command on the dying connection would fail with DISCONNECTED instead).
        yield* until(() => statuses.includes("Disconnected"), "the client to notice")
        const started = Date.now()
        const refused = yield* Effect.flip(a.command(channel, "chat.send", { body: "into the void" }))
        expect(refused.code).toBe("TIMEOUT")
        expect(Date.now() - started).toBeLessThan(5_000)
        net.setDown(false)
        const sent = yield* a.command(channel, "chat.send", { body: "back online" }).pipe(
          Effect.retry({ while: (e) => e.code === "TIMEOUT", times: 5 })
        )
        expect(sent).toMatchObject({ message: { body: "back online" } })
      }))

    it.scoped("when the lesson is cancelled the server ends the subscription; the client reports it and forgets it", () =>
      Effect.gen(function*() {
        const { tutor, ann, lesson, channel } = yield* tutorAndStudent
        const a = yield* client(ann.token)
        const ended: Array<string> = []
        yield* a.subscribe(channel, inbox().onEvent, { onUnsubscribed: (error) => void ended.push(error.code) })
        yield* appendEvent(lesson.id, "chat.created", { n: 1 })
        yield* until(() => a.position(channel)?.seq === 1, "first event")
        yield* Effect.flatMap(Lessons, (lessons) => lessons.cancel({ id: tutor.user.id, role: "tutor" }, lesson.id))
        yield* until(() => ended.length > 0, "the subscription to end")
        expect(ended).toEqual(["SUBSCRIPTION_REVOKED"])
        expect(a.position(channel)).toBeUndefined()
      }))

    it.scoped("when the room fell behind the retained log the client resubscribes by itself and is told to reset", () =>
      Effect.gen(function*() {
        const { ann, lesson, channel } = yield* tutorAndStudent
        const a = yield* client(ann.token)
        const box = inbox()
        const acks: Array<unknown> = []
        const ended: Array<string> = []
        yield* a.subscribe(channel, box.onEvent, {
          onAck: (data) => void acks.push(data),
          onUnsubscribed: (error) => void ended.push(error.code)
        })
        yield* appendEvent(lesson.id, "chat.created", { n: 1 })
        yield* until(() => a.position(channel)?.seq === 1, "first event")

        // 2–7 never reach the room's follower (2–4 pruned unread): the server ends the subscription with
        // RESYNC_REQUIRED and the client subscribes again from seq 1, which can only reset.
        const head = (yield* appendPrunedUnread(lesson.id, 6, 3)) + 1
        yield* appendEvent(lesson.id, "chat.created", { n: head })
        yield* until(() => acks.length === 2, "the automatic resubscribe")
        expect(acks[1]).toMatchObject({ seq: head, reset: true, recovered: 0 })
        expect(a.position(channel)?.seq).toBe(head)
        expect(ended).toEqual([])

        yield* appendEvent(lesson.id, "chat.created", { n: head + 1 })
        yield* until(() => a.position(channel)?.seq === head + 1, "a live event after the reset")
        expect(box.events.filter((ev) => (ev.seq ?? 0) > 0).map((ev) => ev.seq)).toEqual([1, head + 1])
      }))
  })
})

export type { RealtimeClient }
