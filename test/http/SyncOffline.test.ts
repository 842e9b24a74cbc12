/**
 * The offline acceptance scenario over REST: a student's phone goes offline and
 * queues 20 mutations (chat, board, read marks) while the tutor's tablet keeps
 * editing the same board online; the phone comes back and pushes twice (the
 * first answer is lost): nothing is duplicated, conflicts come back per mutation
 * with the server's version, online followers of the room see every applied
 * mutation live, and after a pull both devices hold the server's board. Pulls
 * never show another lesson; stale or forged checkpoints reset or fail.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Schedule, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { Chat } from "../../src/services/Chat.ts"
import { Notifications } from "../../src/services/Notifications.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { createUser, lessonCast, link, scheduleLesson } from "../support/Seed.ts"
import { jobsServerStack } from "../support/JobsStack.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

interface Element {
  readonly id: string
  readonly props: Record<string, unknown>
  readonly version: number
}
interface Message {
  readonly id: string
  readonly body: string | null
  readonly clientMessageId: string | null
}
interface PullLesson {
  readonly lessonId: string
  readonly reset: boolean
  readonly seq: number
  readonly events: ReadonlyArray<{ readonly seq: number; readonly type: string; readonly data: unknown }>
  readonly board?: { readonly version: number; readonly elements: ReadonlyArray<Element> }
  readonly chat?: ReadonlyArray<Message>
}
/** The data of `board.op` events. */
interface BoardOpData {
  readonly op: { readonly elementId: string }
  readonly element: Element | null
  readonly version: number
}
interface Pull {
  readonly checkpoint: string
  readonly reset: boolean
  readonly lastMutationId: number
  readonly lessons: ReadonlyArray<PullLesson>
  readonly removedLessons: ReadonlyArray<string>
  readonly notifications: ReadonlyArray<{ readonly id: string; readonly readAt: string | null }>
  readonly hasMore: boolean
}
interface Result {
  readonly id: number
  readonly status: string
  readonly version?: number
  readonly server?: { readonly element?: Element | null }
  readonly error?: { readonly code: string }
}
interface Push {
  readonly lastMutationId: number
  readonly results: ReadonlyArray<Result>
}

const ok = <A>(response: TestResponse): A => {
  expect(response.status, response.text).toBe(200)
  return response.json as A
}

/** A device: its client id, token, checkpoint and local copy of one lesson (board elements and chat). */
const device = (token: string) => ({
  clientId: randomUUID(),
  token,
  checkpoint: undefined as string | undefined,
  board: new Map<string, Element>(),
  chat: new Map<string, Message>(),
  nextMutation: 1
})
type Device = ReturnType<typeof device>

/** Pulls until nothing more is waiting, applying what comes to the device's copy of `lessonId`. */
const sync = (d: Device, lessonId: string) =>
  Effect.gen(function*() {
    let last: Pull
    do {
      const query = `clientId=${d.clientId}${d.checkpoint === undefined ? "" : `&checkpoint=${encodeURIComponent(d.checkpoint)}`}`
      last = ok<Pull>(yield* call("GET", `/api/v1/sync/pull?${query}`, { token: d.token }))
      d.checkpoint = last.checkpoint
      for (const lesson of last.lessons.filter((l) => l.lessonId === lessonId)) {
        if (lesson.reset) {
          d.board = new Map((lesson.board?.elements ?? []).map((e) => [e.id, e]))
          d.chat = new Map((lesson.chat ?? []).map((m) => [m.id, m]))
        }
        for (const event of lesson.events) {
          if (event.type === "board.op") {
            const data = event.data as BoardOpData
            const current = d.board.get(data.op.elementId)
            // Idempotent: an event older than what the copy holds changes nothing.
            if (current !== undefined && current.version >= data.version) continue
            if (data.element === null) d.board.delete(data.op.elementId)
            else d.board.set(data.element.id, data.element)
          } else if (event.type.startsWith("chat.")) {
            const message = event.data as Message
            d.chat.set(message.id, message)
          }
        }
      }
    } while (last.hasMore)
    return last
  })

const push = (d: Device, mutations: ReadonlyArray<unknown>) =>
  Effect.map(call("POST", "/api/v1/sync/push", { token: d.token, body: { clientId: d.clientId, mutations } }), ok<Push>)

/** Queues a mutation with the device's next id. */
const mutation = (d: Device, entity: string, op: string, args: unknown) => ({ id: d.nextMutation++, entity, op, args })

const boardState = (elements: Iterable<Element>) =>
  [...elements].map((e) => ({ id: e.id, props: e.props, version: e.version })).sort((a, b) => a.id.localeCompare(b.id))

describe(`offline sync acceptance (${backendLabel})`, () => {
  it.layer(jobsServerStack(), liveStack)((it) => {
    it.effect("20 offline mutations against a board edited online: pushed twice, no duplicates, conflicts, convergence", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const notifications = yield* Notifications
        const log = yield* RoomLog
        const cast = yield* lessonCast()
        const lessonId = cast.lesson.id
        // Another lesson, with content the student must never see.
        const other = yield* scheduleLesson(cast.otherTutor.user.id, [cast.otherStudent.user.id])
        yield* chat.send(cast.otherTutor.user, other.id, { body: "secret of the other lesson" })
        const notes = yield* Effect.forEach([1, 2, 3], (n) => notifications.notify(cast.student.user.id, { type: "system", title: `n${n}` }))
        const [note1, note2] = notes.flatMap((o) => Option.toArray(o)).map((n) => n.id)

        const phone = device(cast.student.token)
        const tablet = device(cast.tutor.token)
        // The tablet draws five shapes online; both devices sync.
        const drawn = yield* push(tablet, ["e1", "e2", "e3", "e4", "e5"].map((id) =>
          mutation(tablet, "board", "apply", { lessonId, op: { kind: "add", elementId: id, props: { shape: "rect", x: 0 } } })
        ))
        expect(drawn.results.map((r) => r.status)).toEqual(["applied", "applied", "applied", "applied", "applied"])
        expect((yield* sync(phone, lessonId)).reset).toBe(true)
        yield* sync(tablet, lessonId)
        expect(boardState(phone.board.values())).toEqual(boardState(tablet.board.values()))
        const seen = (id: string) => phone.board.get(id)?.version ?? -1
        // Sent online just before the train entered the tunnel; the app queued it again anyway.
        const sent = yield* call("POST", `/api/v1/lessons/${lessonId}/messages`, {
          token: cast.student.token,
          body: { body: "m3 (online)", clientMessageId: "m3" }
        })
        expect(sent.status, sent.text).toBe(201)

        // Online peers follow the room from here on.
        const start = yield* log.head(lessonId)
        const isLast = (e: { readonly type: string; readonly data: unknown }) =>
          e.type === "chat.created" && (e.data as Message).body === "last"
        const follower = yield* log.follow(lessonId, start).pipe(
          Effect.flatMap((events) => Stream.runCollect(Stream.takeUntil(events, isLast))),
          Effect.scoped,
          Effect.fork
        )

        // Offline: 20 mutations queued on the phone.
        const queue = [
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m1", body: "first draft" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "update", elementId: "e1", props: { color: "blue" }, baseVersion: seen("e1"), clientOpId: "p1" } }),
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m2", body: "to be deleted" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "update", elementId: "e2", props: { x: 7 }, baseVersion: seen("e2"), clientOpId: "p2" } }),
          mutation(phone, "notification", "read", { notificationId: note1 }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "update", elementId: "e3", props: { x: 3 }, baseVersion: seen("e3"), clientOpId: "p3" } }),
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m3", body: "m3 (queued copy)" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "delete", elementId: "e4", baseVersion: seen("e4"), clientOpId: "p4" } }),
          mutation(phone, "chat", "edit", { lessonId, clientMessageId: "m1", body: "first, edited" }),
          // No op id: only the mutation id keeps the retry from applying it twice.
          mutation(phone, "board", "apply", { lessonId, op: { kind: "update", elementId: "e5", props: { h: 9 } } }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "add", elementId: "a1", props: { shape: "line" }, clientOpId: "p6" } }),
          mutation(phone, "chat", "delete", { lessonId, clientMessageId: "m2" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "add", elementId: "a2", props: { shape: "dot" }, clientOpId: "p7" } }),
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m4", body: "fourth" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "add", elementId: "a3", props: { shape: "arc" }, clientOpId: "p8" } }),
          mutation(phone, "notification", "read", { notificationId: note2 }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "update", elementId: "a1", props: { x: 1 }, clientOpId: "p9" } }),
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m5", body: "fifth" }),
          mutation(phone, "board", "apply", { lessonId, op: { kind: "add", elementId: "a4", props: { shape: "star" }, clientOpId: "p10" } }),
          mutation(phone, "chat", "create", { lessonId, clientMessageId: "m6", body: "last" })
        ]
        expect(queue.length).toBe(20)

        // Meanwhile the tablet keeps editing online (the REST twin of the WebSocket board command).
        const online = yield* Effect.forEach([
          { kind: "update", elementId: "e1", props: { color: "red" } },
          { kind: "delete", elementId: "e2" },
          { kind: "update", elementId: "e5", props: { w: 50 } },
          { kind: "add", elementId: "b1", props: { shape: "text" } }
        ], (op) => Effect.map(call("POST", `/api/v1/lessons/${lessonId}/board/ops`, { token: tablet.token, body: op }), ok<{ outcome: string; version: number }>))
        expect(online.map((r) => r.outcome)).toEqual(["applied", "applied", "applied", "applied"])
        const [redVersion, deletedVersion] = online.map((r) => r.version)

        // Back online: the first push gets through 12 mutations but its answer is lost; the app retries the whole queue.
        const lost = yield* push(phone, queue.slice(0, 12))
        expect(lost.lastMutationId).toBe(12)
        const retry = yield* push(phone, queue)
        expect(retry.lastMutationId).toBe(20)
        const statuses = retry.results.map((r) => r.status)
        expect(statuses.slice(0, 12)).toEqual(Array(12).fill("duplicate"))
        // What the lost answer said, per mutation: the two board ops based on versions the tablet changed conflict.
        expect(lost.results.map((r) => r.status)).toEqual([
          "applied", "conflict", "applied", "conflict", "applied", "applied",
          "duplicate", "applied", "applied", "applied", "applied", "applied"
        ])
        expect(lost.results[1]).toMatchObject({ status: "conflict", version: redVersion, server: { element: { id: "e1", props: { color: "red" } } } })
        expect(lost.results[3]).toMatchObject({ status: "conflict", version: deletedVersion, server: { element: null } })
        expect(statuses.slice(12)).toEqual(Array(8).fill("applied"))
        // A third attempt changes nothing at all.
        const third = yield* push(phone, queue)
        expect(third.results.every((r) => r.status === "duplicate")).toBe(true)

        // Every applied room mutation reached online followers live, once, in order.
        const live = Chunk.toReadonlyArray(yield* Fiber.join(follower).pipe(Effect.timeout("10 seconds")))
        const appliedVersions = [...lost.results, ...retry.results.slice(12)]
          .filter((r) => r.status === "applied" && r.version !== undefined).map((r) => r.version)
        const liveSeqs = live.map((e) => e.seq)
        expect(liveSeqs).toEqual([...liveSeqs].sort((a, b) => a - b))
        expect(new Set(liveSeqs).size).toBe(liveSeqs.length)
        for (const v of appliedVersions) expect(liveSeqs).toContain(v)

        // No duplicates on the server: one message per client message id, m3 the online one.
        const history = ok<{ items: ReadonlyArray<Message> }>(
          yield* call("GET", `/api/v1/lessons/${lessonId}/messages?limit=100`, { token: cast.tutor.token })
        ).items
        const byClientId = (id: string) => history.filter((m) => m.clientMessageId === id)
        for (const id of ["m1", "m2", "m3", "m4", "m5", "m6"]) expect(byClientId(id).length, id).toBe(1)
        expect(byClientId("m1")[0]?.body).toBe("first, edited")
        expect(byClientId("m2")[0]?.body).toBeNull()
        expect(byClientId("m3")[0]?.body).toBe("m3 (online)")

        // Both devices pull and converge on the server's board.
        const phonePull = yield* sync(phone, lessonId)
        expect(phonePull.lastMutationId).toBe(20)
        yield* sync(tablet, lessonId)
        const server = ok<{ elements: ReadonlyArray<Element> }>(yield* call("GET", `/api/v1/lessons/${lessonId}/board/snapshot`, { token: cast.tutor.token }))
        expect(boardState(phone.board.values())).toEqual(boardState(server.elements))
        expect(boardState(tablet.board.values())).toEqual(boardState(server.elements))
        expect(boardState(server.elements).map((e) => e.id)).toEqual(["a1", "a2", "a3", "a4", "b1", "e1", "e3", "e5"])
        expect(phone.board.get("e1")?.props).toMatchObject({ color: "red" })
        expect(phone.board.get("e5")?.props).toMatchObject({ w: 50, h: 9 })
        expect(phone.board.get("a1")?.props).toEqual({ shape: "line", x: 1 })
        expect([...phone.chat.values()].filter((m) => m.clientMessageId === "m3").length).toBe(1)
        const unread = ok<{ items: Array<{ type: string }> }>(yield* call("GET", "/api/v1/notifications?unread=true", { token: cast.student.token }))
        expect(unread.items.map((n) => n.type)).toEqual(["system"])

        // The tutor is told about each message that arrived through sync (by a queued job), the author is not.
        const chatNotices = (token: string) =>
          Effect.map(call("GET", "/api/v1/notifications?limit=50", { token }), (r) =>
            ok<{ items: Array<{ type: string; data: { messageId?: string } }> }>(r).items.filter((n) => n.type === "chat.message"))
        const told = yield* chatNotices(cast.tutor.token).pipe(
          Effect.filterOrFail((items) => items.length >= 5, () => "not yet"),
          Effect.retry(Schedule.spaced("200 millis")),
          Effect.timeout("15 seconds")
        )
        const pushedIds = ["m1", "m2", "m4", "m5", "m6"].map((id) => byClientId(id)[0]?.id)
        expect(told.map((n) => n.data.messageId).sort()).toEqual([...pushedIds].sort())
        expect(yield* chatNotices(cast.student.token)).toEqual([])

        // Nothing of the other lesson ever reached the student's devices.
        expect(JSON.stringify(phonePull)).not.toContain(other.id)
      }))

    it.effect("a device with many lessons loads them over several pulls (20 resets per pull), then only changes", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const cast = yield* lessonCast()
        const more = yield* Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
          scheduleLesson(cast.tutor.user.id, [cast.student.user.id], { startsIn: `${i + 2} hours` }))
        const all = [cast.lesson.id, ...more.map((l) => l.id)].sort()
        const phone = device(cast.student.token)
        const query = () => `/api/v1/sync/pull?clientId=${phone.clientId}${phone.checkpoint === undefined ? "" : `&checkpoint=${encodeURIComponent(phone.checkpoint)}`}`
        const first = ok<Pull>(yield* call("GET", query(), { token: phone.token }))
        phone.checkpoint = first.checkpoint
        expect([first.reset, first.hasMore, first.lessons.length]).toEqual([true, true, 20])
        const second = ok<Pull>(yield* call("GET", query(), { token: phone.token }))
        phone.checkpoint = second.checkpoint
        expect([second.reset, second.hasMore, second.lessons.length]).toEqual([false, false, 1])
        expect([...first.lessons, ...second.lessons].map((l) => l.lessonId).sort()).toEqual(all)
        const target = more[7]?.id ?? cast.lesson.id
        yield* chat.send(cast.tutor.user, target, { body: "only this one changed" })
        const third = ok<Pull>(yield* call("GET", query(), { token: phone.token }))
        expect(third.lessons.map((l) => [l.lessonId, l.reset, l.events.length])).toEqual([[target, false, 1]])
      }))

    it.effect("stale and forged checkpoints: reset or 400, and never another lesson's data", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const cast = yield* lessonCast()
        const other = yield* scheduleLesson(cast.otherTutor.user.id, [cast.otherStudent.user.id])
        yield* chat.send(cast.otherTutor.user, other.id, { body: "not for you" })
        yield* chat.send(cast.tutor.user, cast.lesson.id, { body: "hello class" })

        const phone = device(cast.student.token)
        const first = yield* sync(phone, cast.lesson.id)
        expect(first.lessons.map((l) => l.lessonId)).toEqual([cast.lesson.id])
        const firstCheckpoint = phone.checkpoint ?? ""
        yield* chat.send(cast.tutor.user, cast.lesson.id, { body: "second" })
        const second = yield* sync(phone, cast.lesson.id)
        expect(second.lessons.map((l) => [l.reset, l.events.map((e) => (e.data as Message).body)])).toEqual([[false, ["second"]]])
        yield* sync(phone, cast.lesson.id)
        // Two pulls later the first checkpoint's positions are gone: a reset of the student's own lessons only.
        const stale = ok<Pull>(yield* call("GET", `/api/v1/sync/pull?clientId=${phone.clientId}&checkpoint=${firstCheckpoint}`, { token: phone.token }))
        expect(stale.reset).toBe(true)
        expect(stale.lessons.map((l) => [l.lessonId, l.reset])).toEqual([[cast.lesson.id, true]])

        // The other student's device presenting the phone's checkpoint, or a doctored one, gets 400 and no data.
        const thief = device(cast.otherStudent.token)
        for (const checkpoint of [phone.checkpoint ?? "", `${(phone.checkpoint ?? "").split(".")[0]}.AAAA`, "e30.e30"]) {
          const response = yield* call("GET", `/api/v1/sync/pull?clientId=${thief.clientId}&checkpoint=${encodeURIComponent(checkpoint)}`, { token: thief.token })
          expect([response.status, errorCode(response)]).toEqual([400, "INVALID_CHECKPOINT"])
          expect(response.text).not.toContain("hello class")
        }
        const own = yield* sync(thief, other.id)
        expect(own.lessons.map((l) => l.lessonId)).toEqual([other.id])
        expect(JSON.stringify(own)).not.toContain(cast.lesson.id)

        // Mutations on a lesson the caller is not part of are rejected and write nothing.
        const before = (yield* chat.history(cast.otherTutor.user, other.id, {})).items.length
        const refused = yield* push(phone, [
          mutation(phone, "chat", "create", { lessonId: other.id, clientMessageId: "x1", body: "sneaky" }),
          mutation(phone, "board", "apply", { lessonId: other.id, op: { kind: "add", elementId: "x", props: {} } }),
          mutation(phone, "chat", "create", { lessonId: cast.lesson.id, clientMessageId: "x2", body: "   " }),
          mutation(phone, "board", "apply", { lessonId: cast.lesson.id, op: { kind: "update", elementId: "x" } })
        ])
        expect(refused.results.map((r) => [r.status, r.error?.code])).toEqual([
          ["rejected", "LESSON_NOT_FOUND"],
          ["rejected", "LESSON_NOT_FOUND"],
          ["rejected", "VALIDATION_ERROR"],
          ["rejected", "VALIDATION_ERROR"]
        ])
        expect((yield* chat.history(cast.otherTutor.user, other.id, {})).items.length).toBe(before)

        // Taken out of a lesson: the next pull tells the device to drop it and carries nothing of it any more.
        const classmate = yield* createUser("student")
        yield* link(cast.tutor.user.id, classmate.id)
        const group = yield* scheduleLesson(cast.tutor.user.id, [cast.student.user.id, classmate.id])
        yield* chat.send(cast.tutor.user, group.id, { body: "welcome to the group" })
        const joined = yield* sync(phone, group.id)
        expect(joined.lessons.find((l) => l.lessonId === group.id)?.reset).toBe(true)
        expect([...phone.chat.values()].map((m) => m.body)).toEqual(["welcome to the group"])
        const patched = yield* call("PATCH", `/api/v1/lessons/${group.id}`, { token: cast.tutor.token, body: { studentIds: [classmate.id] } })
        expect(patched.status, patched.text).toBe(200)
        yield* chat.send(cast.tutor.user, group.id, { body: "after you left" })
        const dropped = yield* sync(phone, group.id)
        expect(dropped.removedLessons).toEqual([group.id])
        expect(dropped.lessons.map((l) => l.lessonId)).not.toContain(group.id)
        expect(JSON.stringify(dropped)).not.toContain("after you left")
      }))
  })
})
