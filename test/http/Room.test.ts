/**
 * The lesson room's REST companions through the real server: chat history,
 * edit and delete, board snapshot (JSON and gzip), import, timeline and deltas —
 * for every kind of caller, with bad input answered 400 naming the fields and
 * refused requests changing nothing in the database.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { gunzipSync } from "node:zlib"
import { Board } from "../../src/services/Board.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { snapshot } from "../support/DbSnapshot.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { link, scheduleLesson, signedIn } from "../support/Seed.ts"
import { backendLabel, baseUrl, liveStack, serverStack } from "../support/TestStack.ts"

const roomTables = ["room_heads", "room_events", "chat_messages", "board_elements", "board_ops", "board_snapshots"]

/** A lesson of `tutor` with students Ann and Bob, and everyone around it. */
const cast = Effect.gen(function*() {
  const [tutor, ann, bob, admin, otherTutor, stranger] = yield* Effect.all([
    signedIn("tutor", { displayName: "Ms Tutor" }),
    signedIn("student", { displayName: "Ann" }),
    signedIn("student", { displayName: "Bob" }),
    signedIn("admin"),
    signedIn("tutor"),
    signedIn("student")
  ])
  yield* link(tutor.user.id, ann.user.id)
  yield* link(tutor.user.id, bob.user.id)
  const lesson = yield* scheduleLesson(tutor.user.id, [ann.user.id, bob.user.id])
  return { tutor, ann, bob, admin, otherTutor, stranger, lessonId: lesson.id, base: `/api/v1/lessons/${lesson.id}` }
})

const outcome = (r: TestResponse) => [r.status, errorCode(r)]
const fields = (r: TestResponse) => (r.json as { error: { fields: Record<string, string> } }).error.fields

/** Runs `effect` and checks that no room table changed. */
const changesNothing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = yield* snapshot(roomTables)
    const result = yield* effect
    expect(yield* snapshot(roomTables)).toEqual(before)
    return result
  })

describe(`lesson room REST (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.effect("chat history: members page newest first; outsiders 404; bad paging 400", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const { tutor, ann, bob, admin, otherTutor, stranger, lessonId, base } = yield* cast
        for (const [who, body] of [[ann, "one"], [bob, "two"], [ann, "three"]] as const) {
          yield* chat.send(who.user, lessonId, { body })
        }
        for (const who of [tutor, ann, bob, admin]) {
          const page = yield* call("GET", `${base}/messages?limit=2`, { token: who.token })
          expect(page.status).toBe(200)
          expect((page.json as { items: Array<{ body: string; authorName: string }> }).items.map((m) => [m.body, m.authorName]))
            .toEqual([["three", "Ann"], ["two", "Bob"]])
          const cursor = (page.json as { nextCursor: string }).nextCursor
          const next = yield* call("GET", `${base}/messages?limit=2&cursor=${cursor}`, { token: who.token })
          expect(next.json).toMatchObject({ items: [{ body: "one", seq: 1 }], nextCursor: null })
        }
        for (const who of [otherTutor, stranger]) {
          expect(outcome(yield* call("GET", `${base}/messages`, { token: who.token }))).toEqual([404, "LESSON_NOT_FOUND"])
        }
        expect((yield* call("GET", `${base}/messages`)).status).toBe(401)
        const badLimit = yield* call("GET", `${base}/messages?limit=0`, { token: ann.token })
        expect(outcome(badLimit)).toEqual([400, "VALIDATION_ERROR"])
        expect(Object.keys(fields(badLimit))).toEqual(["limit"])
        expect(outcome(yield* call("GET", `${base}/messages?cursor=Zm9v`, { token: ann.token }))).toEqual([400, "INVALID_CURSOR"])
        expect(outcome(yield* call("GET", "/api/v1/lessons/not-a-uuid/messages", { token: ann.token })))
          .toEqual([400, "VALIDATION_ERROR"])
      }))

    it.effect("posting: messages (idempotent by clientMessageId) and board ops (applied, duplicate, conflict); bad input 400 and nothing stored", () =>
      Effect.gen(function*() {
        const { tutor, ann, bob, stranger, base } = yield* cast
        yield* changesNothing(Effect.gen(function*() {
          const bad = yield* call("POST", `${base}/messages`, { token: ann.token, body: { body: "", clientMessageId: "has space" } })
          expect(outcome(bad)).toEqual([400, "VALIDATION_ERROR"])
          expect(Object.keys(fields(bad)).sort()).toEqual(["body", "clientMessageId"])
          expect(outcome(yield* call("POST", `${base}/messages`, { token: stranger.token, body: { body: "hi" } })))
            .toEqual([404, "LESSON_NOT_FOUND"])
          const badOp = yield* call("POST", `${base}/board/ops`, { token: ann.token, body: { kind: "move", elementId: "", baseVersion: -1 } })
          expect(outcome(badOp)).toEqual([400, "VALIDATION_ERROR"])
          expect(Object.keys(fields(badOp)).sort()).toEqual(["baseVersion", "elementId", "kind"])
          const noProps = yield* call("POST", `${base}/board/ops`, { token: ann.token, body: { kind: "add", elementId: "a" } })
          expect([noProps.status, fields(noProps)]).toEqual([400, { props: "is required" }])
          expect(outcome(yield* call("POST", `${base}/board/ops`, { token: stranger.token, body: { kind: "delete", elementId: "a" } })))
            .toEqual([404, "LESSON_NOT_FOUND"])
        }))

        const sent = yield* call("POST", `${base}/messages`, { token: ann.token, body: { body: " hello ", clientMessageId: "k-1" } })
        expect(sent.status).toBe(201)
        expect(sent.json).toMatchObject({ message: { body: "hello", authorName: "Ann", clientMessageId: "k-1", seq: 1 }, duplicate: false })
        const retry = yield* changesNothing(call("POST", `${base}/messages`, { token: ann.token, body: { body: "hello", clientMessageId: "k-1" } }))
        expect(retry.json).toEqual({ ...(sent.json as object), duplicate: true })
        // The key is per author: Bob's k-1 is a new message.
        expect((yield* call("POST", `${base}/messages`, { token: bob.token, body: { body: "yo", clientMessageId: "k-1" } })).json)
          .toMatchObject({ message: { seq: 2 }, duplicate: false })

        const add = { kind: "add", elementId: "a", props: { x: 1 }, clientOpId: "op-1" }
        expect((yield* call("POST", `${base}/board/ops`, { token: tutor.token, body: add })).json)
          .toMatchObject({ outcome: "applied", version: 3, element: { id: "a", props: { x: 1 }, version: 3, updatedBy: tutor.user.id } })
        expect((yield* changesNothing(call("POST", `${base}/board/ops`, { token: tutor.token, body: add }))).json)
          .toMatchObject({ outcome: "duplicate", version: 3 })
        const conflict = yield* changesNothing(call("POST", `${base}/board/ops`, { token: bob.token, body: { ...add, clientOpId: "op-2" } }))
        expect([conflict.status, conflict.json]).toMatchObject([200, { outcome: "conflict", version: 3, element: { props: { x: 1 } } }])
        expect((yield* call("GET", `${base}/messages`, { token: tutor.token })).json).toMatchObject({
          items: [{ body: "yo", authorName: "Bob" }, { body: "hello", authorName: "Ann" }]
        })
      }))

    it.scoped("writes over REST reach the room's live followers, numbered in order", () =>
      Effect.gen(function*() {
        const log = yield* RoomLog
        const { ann, tutor, lessonId, base } = yield* cast
        const live = yield* log.follow(lessonId, yield* log.head(lessonId))
        const sent = yield* call("POST", `${base}/messages`, { token: ann.token, body: { body: "live?" } })
        const id = (sent.json as { message: { id: string } }).message.id
        yield* call("POST", `${base}/board/ops`, { token: tutor.token, body: { kind: "add", elementId: "e", props: { x: 1 } } })
        yield* call("DELETE", `${base}/messages/${id}`, { token: tutor.token })
        const events = yield* Stream.runCollect(Stream.take(live, 3)).pipe(Effect.timeout("5 seconds"), Effect.map(Chunk.toArray))
        expect(events.map((e) => [e.seq, e.type])).toEqual([[1, "chat.created"], [2, "board.op"], [3, "chat.deleted"]])
        expect(events[0]?.data).toMatchObject({ id, body: "live?", authorName: "Ann" })
        expect(events[2]?.data).toMatchObject({ id, body: null })
      }))

    it.effect("edit and delete: the author, the tutor and an admin; another student 403; refused requests change nothing", () =>
      Effect.gen(function*() {
        const chat = yield* Chat
        const { tutor, ann, bob, admin, stranger, lessonId, base } = yield* cast
        const { message } = yield* chat.send(ann.user, lessonId, { body: "first draft" })
        const url = `${base}/messages/${message.id}`

        yield* changesNothing(Effect.gen(function*() {
          expect(outcome(yield* call("PATCH", url, { token: bob.token, body: { body: "mine now" } }))).toEqual([403, "FORBIDDEN"])
          expect(outcome(yield* call("DELETE", url, { token: bob.token }))).toEqual([403, "FORBIDDEN"])
          expect(outcome(yield* call("PATCH", url, { token: stranger.token, body: { body: "x" } }))).toEqual([404, "LESSON_NOT_FOUND"])
          const empty = yield* call("PATCH", url, { token: ann.token, body: { body: "   ", extra: 1 } })
          expect(outcome(empty)).toEqual([400, "VALIDATION_ERROR"])
          expect(fields(empty)).toHaveProperty("body")
          const tooLong = yield* call("PATCH", url, { token: ann.token, body: { body: "x".repeat(4001) } })
          expect(fields(tooLong)).toEqual({ body: "at most 4000 characters" })
          expect(outcome(yield* call("PATCH", url, { token: ann.token, rawBody: "{nope", headers: { "content-type": "application/json" } })))
            .toEqual([400, "MALFORMED_BODY"])
          const unknown = `${base}/messages/00000000-0000-4000-8000-000000000000`
          expect(outcome(yield* call("PATCH", unknown, { token: ann.token, body: { body: "x" } }))).toEqual([404, "MESSAGE_NOT_FOUND"])
          expect(outcome(yield* call("DELETE", unknown, { token: tutor.token }))).toEqual([404, "MESSAGE_NOT_FOUND"])
        }))

        const edited = yield* call("PATCH", url, { token: ann.token, body: { body: "  final  " } })
        expect(edited.status).toBe(200)
        expect(edited.json).toMatchObject({ id: message.id, body: "final", authorName: "Ann", deletedAt: null })
        expect((edited.json as { editedAt: string | null }).editedAt).toMatch(/^\d{4}-/)
        expect((yield* call("PATCH", url, { token: tutor.token, body: { body: "moderated" } })).json).toMatchObject({ body: "moderated" })
        expect((yield* call("PATCH", url, { token: admin.token, body: { body: "by admin" } })).json).toMatchObject({ body: "by admin" })

        const deleted = yield* call("DELETE", url, { token: ann.token })
        expect(deleted.status).toBe(200)
        expect(deleted.json).toMatchObject({ id: message.id, body: null })
        expect((yield* call("DELETE", url, { token: tutor.token })).json).toMatchObject({ body: null })
        yield* changesNothing(Effect.gen(function*() {
          expect(outcome(yield* call("PATCH", url, { token: ann.token, body: { body: "back" } }))).toEqual([409, "MESSAGE_DELETED"])
        }))
        const history = yield* call("GET", `${base}/messages`, { token: bob.token })
        expect(history.json).toMatchObject({ items: [{ id: message.id, body: null }] })
      }))

    it.effect("board: snapshot as JSON and gzip, timeline, ops since a version; outsiders 404; bad queries 400", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const { tutor, ann, bob, otherTutor, lessonId, base } = yield* cast
        yield* board.apply(ann.user, lessonId, { kind: "add", elementId: "a", props: { x: 1 } })
        yield* board.apply(bob.user, lessonId, { kind: "add", elementId: "b", props: { x: 2 } })
        yield* board.apply(ann.user, lessonId, { kind: "update", elementId: "b", props: { x: 3 } })

        const json = yield* call("GET", `${base}/board/snapshot`, { token: bob.token })
        expect(json.status).toBe(200)
        expect(json.json).toMatchObject({
          lessonId,
          version: 3,
          elements: [{ id: "a", props: { x: 1 }, version: 1, updatedBy: ann.user.id }, { id: "b", props: { x: 3 }, version: 3 }]
        })
        const url = `${yield* baseUrl}${base}/board/snapshot?format=gzip`
        const gz = yield* Effect.promise(() => fetch(url, { headers: { authorization: `Bearer ${tutor.token}` } }))
        expect(gz.status).toBe(200)
        expect(gz.headers.get("content-type")).toBe("application/gzip")
        expect(gz.headers.get("content-disposition")).toBe(`attachment; filename="board-${lessonId}-v3.json.gz"`)
        const bytes = Buffer.from(yield* Effect.promise(() => gz.arrayBuffer()))
        expect(JSON.parse(gunzipSync(bytes).toString("utf8"))).toEqual(json.json)
        expect(outcome(yield* call("GET", `${base}/board/snapshot?format=zip`, { token: bob.token }))).toEqual([400, "VALIDATION_ERROR"])
        // The OpenAPI document announces both representations.
        const doc = (yield* call("GET", "/openapi.json")).json as {
          paths: Record<string, { get: { responses: Record<string, { content: Record<string, unknown> }> } }>
        }
        expect(Object.keys(doc.paths["/api/v1/lessons/{id}/board/snapshot"]?.get.responses["200"]?.content ?? {}).sort())
          .toEqual(["application/gzip", "application/json"])
        expect(outcome(yield* call("GET", `${base}/board/snapshot?format=gzip`, { token: otherTutor.token }))).toEqual([404, "LESSON_NOT_FOUND"])

        const timeline = yield* call("GET", `${base}/board/timeline?limit=2`, { token: ann.token })
        expect((timeline.json as { items: Array<{ version: number; authorName: string; kind: string }> }).items.map((o) => [o.version, o.kind, o.authorName]))
          .toEqual([[3, "update", "Ann"], [2, "add", "Bob"]])
        const older = yield* call("GET", `${base}/board/timeline?cursor=${(timeline.json as { nextCursor: string }).nextCursor}`, { token: ann.token })
        expect(older.json).toMatchObject({ items: [{ version: 1, elementId: "a" }], nextCursor: null })

        const ops = yield* call("GET", `${base}/board/ops?sinceVersion=1&limit=1`, { token: bob.token })
        expect(ops.json).toMatchObject({ ops: [{ version: 2, kind: "add", elementId: "b", props: { x: 2 } }], nextSinceVersion: 2, hasMore: true, snapshotRequired: false })
        const rest = yield* call("GET", `${base}/board/ops?sinceVersion=2`, { token: bob.token })
        expect(rest.json).toMatchObject({ ops: [{ version: 3 }], nextSinceVersion: 3, hasMore: false })
        for (const query of ["", "?sinceVersion=-1", "?sinceVersion=abc", "?sinceVersion=1&limit=500"]) {
          const bad = yield* call("GET", `${base}/board/ops${query}`, { token: bob.token })
          expect(outcome(bad)).toEqual([400, "VALIDATION_ERROR"])
        }
        expect(fields(yield* call("GET", `${base}/board/ops`, { token: bob.token }))).toHaveProperty("sinceVersion")
        expect(outcome(yield* call("GET", `${base}/board/ops?sinceVersion=0`, { token: otherTutor.token }))).toEqual([404, "LESSON_NOT_FOUND"])
        expect(outcome(yield* call("GET", `${base}/board/timeline`, { token: otherTutor.token }))).toEqual([404, "LESSON_NOT_FOUND"])
      }))

    it.effect("board import: tutor and admin only, replace or merge; invalid imports 400 naming fields and change nothing", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const { tutor, ann, admin, stranger, lessonId, base } = yield* cast
        yield* board.apply(ann.user, lessonId, { kind: "add", elementId: "a", props: { v: "ann" } })
        const url = `${base}/board/snapshot`
        const valid = { strategy: "merge", elements: [{ id: "a", props: { v: "old" }, version: 0 }, { id: "n", props: { v: 1 } }] }

        yield* changesNothing(Effect.gen(function*() {
          expect(outcome(yield* call("POST", url, { token: ann.token, body: valid }))).toEqual([403, "FORBIDDEN"])
          expect(outcome(yield* call("POST", url, { token: stranger.token, body: valid }))).toEqual([404, "LESSON_NOT_FOUND"])
          const bad = yield* call("POST", url, {
            token: tutor.token,
            body: { strategy: "wipe", elements: [{ id: "bad id!", props: { big: "x".repeat(17_000) } }, { id: "ok", props: [] }] }
          })
          expect(outcome(bad)).toEqual([400, "VALIDATION_ERROR"])
          expect(Object.keys(fields(bad)).sort()).toEqual(["elements.0.id", "elements.0.props", "elements.1.props", "strategy"])
          const duplicate = yield* call("POST", url, {
            token: tutor.token,
            body: { strategy: "replace", elements: [{ id: "x", props: {} }, { id: "x", props: {} }] }
          })
          expect(outcome(duplicate)).toEqual([400, "BOARD_SNAPSHOT_INVALID"])
          expect(fields(duplicate)).toEqual({ "elements.1.id": "duplicate of elements.0.id" })
        }))

        const merged = yield* call("POST", url, { token: tutor.token, body: valid })
        expect([merged.status, merged.json]).toEqual([200, { version: 2, written: 1, removed: 0, kept: 1 }])
        const replaced = yield* call("POST", url, { token: admin.token, body: { strategy: "replace", elements: [{ id: "z", props: { v: 9 } }] } })
        expect(replaced.json).toEqual({ version: 3, written: 1, removed: 2, kept: 0 })
        const after = yield* call("GET", url, { token: ann.token })
        expect(after.json).toMatchObject({ version: 3, elements: [{ id: "z", props: { v: 9 }, version: 3, updatedBy: admin.user.id }] })
        expect((yield* call("GET", `${base}/board/ops?sinceVersion=1`, { token: ann.token })).json)
          .toEqual({ ops: [], nextSinceVersion: 3, hasMore: false, snapshotRequired: true })
        const timeline = yield* call("GET", `${base}/board/timeline`, { token: ann.token })
        expect((timeline.json as { items: Array<{ kind: string; props: unknown }> }).items[0])
          .toMatchObject({ kind: "import", elementId: "*", props: { strategy: "replace", written: 1, removed: 2, kept: 0 } })
      }))
  })
})
