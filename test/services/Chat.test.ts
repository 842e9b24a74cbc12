/**
 * Chat through the service: idempotent sends with the author's name, one room
 * event per change (none for a duplicate or a no-op), who may edit and delete,
 * tombstones, and history paging newest first.
 */
import { describe, expect, it } from "@effect/vitest"
import { DateTime, Effect, Exit } from "effect"
import { MessageId } from "../../src/schemas/Chat.ts"
import type { LessonId } from "../../src/schemas/Ids.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const room = Effect.gen(function*() {
  const tutor = yield* createUser("tutor", { displayName: "Ms Tutor" })
  const ann = yield* createUser("student", { displayName: "Ann" })
  const bob = yield* createUser("student", { displayName: "Bob" })
  const stranger = yield* createUser("student")
  const admin = yield* createUser("admin")
  yield* link(tutor.id, ann.id)
  yield* link(tutor.id, bob.id)
  const lesson = yield* scheduleLesson(tutor.id, [ann.id, bob.id])
  return { tutor, ann, bob, stranger, admin, lessonId: lesson.id }
})

const headSeq = (lessonId: LessonId) => Effect.map(Effect.flatMap(RoomLog, (log) => log.head(lessonId)), (h) => h.seq)
const failureCode = <A, E>(effect: Effect.Effect<A, E, Chat>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" && typeof exit.cause.error === "object" &&
      exit.cause.error !== null && "code" in exit.cause.error
      ? exit.cause.error.code
      : exit._tag)

describe(`Chat (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.effect("send stores the message with its author's name and one room event; a repeated clientMessageId returns it again", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const log = yield* RoomLog
        const { ann, lessonId } = yield* room
        const first = yield* chat.send(ann, lessonId, { body: "Hello", clientMessageId: "c-1" })
        expect(first.duplicate).toBe(false)
        expect(first.message).toMatchObject({ authorId: ann.id, authorName: "Ann", body: "Hello", clientMessageId: "c-1", seq: 1 })
        const again = yield* chat.send(ann, lessonId, { body: "Hello (retry)", clientMessageId: "c-1" })
        expect(again).toEqual({ message: first.message, duplicate: true })
        expect(yield* headSeq(lessonId)).toBe(1)
        const second = yield* chat.send(ann, lessonId, { body: "No key" })
        expect(second.message.seq).toBe(2)

        const recovered = yield* log.since(lessonId, { epoch: (yield* log.head(lessonId)).epoch, seq: 0 })
        if (recovered._tag !== "Events") return expect.fail("expected events")
        expect(recovered.events.map((e) => e.type)).toEqual(["chat.created", "chat.created"])
        expect(recovered.events[0]?.data).toEqual({
          id: first.message.id,
          lessonId,
          authorId: ann.id,
          authorName: "Ann",
          body: "Hello",
          clientMessageId: "c-1",
          createdAt: DateTime.formatIso(first.message.createdAt),
          editedAt: null,
          deletedAt: null,
          seq: 1
        })
      }))

    it.effect("concurrent retries of one send store one message and one event", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const { ann, lessonId } = yield* room
        const results = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          (i) => chat.send(ann, lessonId, { body: `attempt ${i}`, clientMessageId: "same" }),
          { concurrency: "unbounded" }
        )
        expect(results.filter((r) => !r.duplicate)).toHaveLength(1)
        expect(new Set(results.map((r) => r.message.id)).size).toBe(1)
        expect(yield* headSeq(lessonId)).toBe(1)
      }))

    it.effect("the author, the tutor and an admin may edit and delete; another student may not; outsiders see no lesson", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const { tutor, ann, bob, stranger, admin, lessonId } = yield* room
        const { message } = yield* chat.send(ann, lessonId, { body: "draft" })
        expect(yield* failureCode(chat.edit(bob, lessonId, message.id, { body: "hijacked" }))).toBe("FORBIDDEN")
        expect(yield* failureCode(chat.remove(bob, lessonId, message.id))).toBe("FORBIDDEN")
        expect(yield* failureCode(chat.edit(stranger, lessonId, message.id, { body: "x" }))).toBe("LESSON_NOT_FOUND")
        expect(yield* failureCode(chat.send(stranger, lessonId, { body: "x" }))).toBe("LESSON_NOT_FOUND")
        const unknown = MessageId.make("00000000-0000-4000-8000-000000000000")
        expect(yield* failureCode(chat.edit(ann, lessonId, unknown, { body: "x" }))).toBe("MESSAGE_NOT_FOUND")
        expect(yield* headSeq(lessonId)).toBe(1)

        const edited = yield* chat.edit(ann, lessonId, message.id, { body: "final" })
        expect(edited.body).toBe("final")
        expect(edited.editedAt).not.toBeNull()
        expect(yield* headSeq(lessonId)).toBe(2)
        // The same body again is a no-op: no event.
        yield* chat.edit(ann, lessonId, message.id, { body: "final" })
        expect(yield* headSeq(lessonId)).toBe(2)
        expect((yield* chat.edit(tutor, lessonId, message.id, { body: "moderated" })).body).toBe("moderated")
        expect((yield* chat.edit(admin, lessonId, message.id, { body: "by admin" })).authorName).toBe("Ann")

        const deleted = yield* chat.remove(tutor, lessonId, message.id)
        expect(deleted).toMatchObject({ body: null, authorId: ann.id })
        expect(deleted.deletedAt).not.toBeNull()
        expect(yield* headSeq(lessonId)).toBe(5)
        expect(yield* failureCode(chat.edit(ann, lessonId, message.id, { body: "back" }))).toBe("MESSAGE_DELETED")
        expect((yield* chat.remove(ann, lessonId, message.id)).body).toBeNull()
        expect(yield* headSeq(lessonId)).toBe(5)
      }))

    it.effect("history pages newest first with tombstones; a forged cursor is INVALID_CURSOR", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const { ann, bob, tutor, lessonId } = yield* room
        for (const i of [1, 2, 3, 4, 5]) yield* chat.send(i % 2 === 0 ? bob : ann, lessonId, { body: `m${i}` })
        const page1 = yield* chat.history(tutor, lessonId, { limit: 2 })
        expect(page1.items.map((m) => m.body)).toEqual(["m5", "m4"])
        expect(page1.items.map((m) => m.authorName)).toEqual(["Ann", "Bob"])
        const third = yield* chat.history(tutor, lessonId, { limit: 1, cursor: page1.nextCursor ?? "" })
        yield* chat.remove(ann, lessonId, third.items[0]?.id ?? MessageId.make("00000000-0000-4000-8000-000000000000"))
        const rest = yield* chat.history(ann, lessonId, { limit: 10, cursor: page1.nextCursor ?? "" })
        expect(rest.items.map((m) => m.body)).toEqual([null, "m2", "m1"])
        expect(rest.nextCursor).toBeNull()
        expect(yield* failureCode(chat.history(ann, lessonId, { cursor: "bm9wZQ" }))).toBe("INVALID_CURSOR")
      }))
  })
})
