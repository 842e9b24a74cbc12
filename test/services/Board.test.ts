/**
 * The whiteboard through the service: last-writer-wins ops numbered by the room
 * seq, conflicts and duplicates that write nothing, snapshots, deltas, the
 * timeline, imports (replace / merge) and the gzip export served from the
 * materialized snapshot.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { gunzipSync } from "node:zlib"
import type { BoardOp } from "../../src/schemas/Board.ts"
import type { LessonId } from "../../src/schemas/Ids.ts"
import { Board } from "../../src/services/Board.ts"
import { BoardOptions } from "../../src/services/BoardSnapshots.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

const room = Effect.gen(function*() {
  const tutor = yield* createUser("tutor", { displayName: "Ms Tutor" })
  const ann = yield* createUser("student", { displayName: "Ann" })
  const bob = yield* createUser("student", { displayName: "Bob" })
  yield* link(tutor.id, ann.id)
  yield* link(tutor.id, bob.id)
  const lesson = yield* scheduleLesson(tutor.id, [ann.id, bob.id])
  return { tutor, ann, bob, lessonId: lesson.id }
})

const op = (o: BoardOp) => o
const headSeq = (lessonId: LessonId) => Effect.map(Effect.flatMap(RoomLog, (log) => log.head(lessonId)), (h) => h.seq)
const failureCode = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" && typeof exit.cause.error === "object" &&
      exit.cause.error !== null && "code" in exit.cause.error
      ? exit.cause.error.code
      : exit._tag)

describe(`Board (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.effect("ops apply last-writer-wins per element; conflicts and duplicates write nothing", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const log = yield* RoomLog
        const { ann, bob, lessonId } = yield* room
        const added = yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "r1", props: { x: 1, y: 2, color: "red" }, clientOpId: "o1" }))
        expect(added).toMatchObject({ outcome: "applied", version: 1, element: { id: "r1", props: { x: 1, y: 2, color: "red" }, version: 1, updatedBy: ann.id } })
        expect(yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "r1", props: { x: 9 }, clientOpId: "o1" })))
          .toMatchObject({ outcome: "duplicate", version: 1, element: { props: { x: 1, y: 2, color: "red" } } })
        expect(yield* board.apply(bob, lessonId, op({ kind: "add", elementId: "r1", props: { x: 5 } })))
          .toMatchObject({ outcome: "conflict", version: 1, element: { props: { x: 1 } } })
        expect(yield* headSeq(lessonId)).toBe(1)

        // Bob moves it; Ann's update based on version 1 is now stale (changed by someone else) …
        const moved = yield* board.apply(bob, lessonId, op({ kind: "update", elementId: "r1", props: { x: 50, color: null }, baseVersion: 1 }))
        expect(moved).toMatchObject({ outcome: "applied", version: 2, element: { props: { x: 50, y: 2 }, updatedBy: bob.id } })
        expect(yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "r1", props: { x: 2 }, baseVersion: 1 })))
          .toMatchObject({ outcome: "conflict", version: 2, element: { props: { x: 50, y: 2 } } })
        // … but without a base version the last writer wins …
        expect((yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "r1", props: { y: 3 } }))).element?.props)
          .toEqual({ x: 50, y: 3 })
        expect((yield* board.apply(bob, lessonId, op({ kind: "update", elementId: "r1", props: { y: 4 }, baseVersion: 2 }))).outcome)
          .toBe("conflict")
        // … and a stale base is no conflict for the author of the newer change.
        expect((yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "r1", props: { y: 5 }, baseVersion: 1 }))))
          .toMatchObject({ outcome: "applied", version: 4 })
        expect(yield* board.apply(bob, lessonId, op({ kind: "delete", elementId: "r1" })))
          .toEqual({ outcome: "applied", version: 5, element: null })
        expect(yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "r1", props: { x: 0 } })))
          .toEqual({ outcome: "conflict", version: 5, element: null })
        expect(yield* board.apply(ann, lessonId, op({ kind: "delete", elementId: "nope" })))
          .toEqual({ outcome: "conflict", version: 0, element: null })
        expect(yield* headSeq(lessonId)).toBe(5)

        const events = yield* log.since(lessonId, { epoch: (yield* log.head(lessonId)).epoch, seq: 0 })
        if (events._tag !== "Events") return expect.fail("expected events")
        expect(events.events.map((e) => e.type)).toEqual(["board.op", "board.op", "board.op", "board.op", "board.op"])
        expect(events.events[1]?.data).toMatchObject({
          op: { kind: "update", elementId: "r1", props: { x: 50, color: null }, baseVersion: 1 },
          element: { id: "r1", props: { x: 50, y: 2 }, version: 2, updatedBy: bob.id },
          version: 2,
          authorId: bob.id
        })
        expect(events.events[4]?.data).toMatchObject({ element: null, version: 5 })
      }))

    it.effect("concurrent adds of one element id: exactly one is applied, the others conflict", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const { ann, bob, lessonId } = yield* room
        const results = yield* Effect.forEach(
          Array.from({ length: 10 }, (_, i) => i),
          (i) => board.apply(i % 2 === 0 ? ann : bob, lessonId, op({ kind: "add", elementId: "race", props: { i } })),
          { concurrency: "unbounded" }
        )
        expect(results.map((r) => r.outcome).sort()).toEqual(["applied", ...Array(9).fill("conflict")])
        expect(yield* headSeq(lessonId)).toBe(1)
      }))

    it.effect("snapshot, ops since a version (paged), and the timeline with authors", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const { tutor, ann, bob, lessonId } = yield* room
        for (const i of [1, 2, 3, 4, 5]) {
          yield* board.apply(i % 2 === 0 ? bob : ann, lessonId, op({ kind: "add", elementId: `e${i}`, props: { i } }))
        }
        yield* board.apply(ann, lessonId, op({ kind: "delete", elementId: "e2" }))
        const snap = yield* board.snapshot(tutor, lessonId)
        expect(snap.version).toBe(6)
        expect(snap.elements.map((e) => [e.id, e.version])).toEqual([["e1", 1], ["e3", 3], ["e4", 4], ["e5", 5]])

        const page = yield* board.opsSince(bob, lessonId, 2, 2)
        expect(page).toMatchObject({ nextSinceVersion: 4, hasMore: true, snapshotRequired: false })
        expect(page.ops.map((o) => [o.version, o.kind, o.elementId, o.authorName])).toEqual([[3, "add", "e3", "Ann"], [4, "add", "e4", "Bob"]])
        const rest = yield* board.opsSince(bob, lessonId, page.nextSinceVersion, 50)
        expect(rest.ops.map((o) => o.version)).toEqual([5, 6])
        expect(rest).toMatchObject({ nextSinceVersion: 6, hasMore: false })
        expect((yield* board.opsSince(bob, lessonId, 6)).ops).toEqual([])

        const timeline = yield* board.timeline(tutor, lessonId, { limit: 4 })
        expect(timeline.items.map((o) => [o.version, o.kind])).toEqual([[6, "delete"], [5, "add"], [4, "add"], [3, "add"]])
        const older = yield* board.timeline(tutor, lessonId, { cursor: timeline.nextCursor ?? "" })
        expect(older.items.map((o) => o.version)).toEqual([2, 1])
        expect(older.nextCursor).toBeNull()
      }))

    it.effect("imports: tutor only, replace or merge last-writer-wins; deltas across an import ask for a reload; gzip export", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const sql = yield* SqlClient.SqlClient
        const { tutor, ann, lessonId } = yield* room
        yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "a", props: { v: "ann" } }))
        yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "b", props: { v: "ann" } }))
        expect(yield* failureCode(board.importSnapshot(ann, lessonId, { strategy: "replace", elements: [] }))).toBe("FORBIDDEN")
        expect(yield* failureCode(board.importSnapshot(tutor, lessonId, {
          strategy: "merge",
          elements: [{ id: "x", props: {} }, { id: "x", props: {} }]
        }))).toBe("BOARD_SNAPSHOT_INVALID")
        expect(yield* headSeq(lessonId)).toBe(2)

        // merge: "a" changed at 1 on the server, the import saw version 0 → kept; "b" without version → written.
        const merged = yield* board.importSnapshot(tutor, lessonId, {
          strategy: "merge",
          elements: [{ id: "a", props: { v: "old" }, version: 0 }, { id: "b", props: { v: "import" } }, { id: "c", props: { v: "new" } }]
        })
        expect(merged).toEqual({ version: 3, written: 2, removed: 0, kept: 1 })
        expect((yield* board.snapshot(ann, lessonId)).elements.map((e) => [e.id, e.props.v, e.version]))
          .toEqual([["a", "ann", 1], ["b", "import", 3], ["c", "new", 3]])
        expect(yield* board.opsSince(ann, lessonId, 2)).toEqual({ ops: [], nextSinceVersion: 3, hasMore: false, snapshotRequired: true })

        const replaced = yield* board.importSnapshot(tutor, lessonId, { strategy: "replace", elements: [{ id: "c", props: { v: "new" } }, { id: "d", props: { v: 1 } }] })
        expect(replaced).toEqual({ version: 4, written: 1, removed: 2, kept: 0 })
        const snap = yield* board.snapshot(ann, lessonId)
        expect(snap.elements.map((e) => e.id)).toEqual(["c", "d"])

        const exported = yield* board.exportCompressed(ann, lessonId)
        expect(JSON.parse(gunzipSync(exported.gzip).toString("utf8"))).toEqual(
          JSON.parse(JSON.stringify(Schema.encodeSync(Schema.Struct({ lessonId: Schema.String, version: Schema.Number, elements: Schema.Array(Schema.Unknown) }))(snap)))
        )
        // A later op makes the stored snapshot stale: the export refreshes it.
        yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "d", props: { v: 2 } }))
        const fresh = JSON.parse(gunzipSync((yield* board.exportCompressed(ann, lessonId)).gzip).toString("utf8"))
        expect(fresh.version).toBe(5)
        expect(fresh.elements.find((e: { id: string }) => e.id === "d").props).toEqual({ v: 2 })
        const stored = yield* sql`SELECT version::int AS version FROM board_snapshots WHERE lesson_id = ${lessonId}`
        expect(stored).toEqual([{ version: 5 }])
      }))

    it.effect("the materialized snapshot is refreshed every snapshotEvery board changes", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const sql = yield* SqlClient.SqlClient
        const { ann, lessonId } = yield* room
        const stored = sql`SELECT version::int AS version FROM board_snapshots WHERE lesson_id = ${lessonId}`
        for (const i of [1, 2]) yield* board.apply(ann, lessonId, op({ kind: "add", elementId: `e${i}`, props: { i } }))
        expect(yield* stored).toEqual([])
        yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "e3", props: { i: 3 } }))
        expect(yield* stored).toEqual([{ version: 3 }])
        for (const i of [4, 5]) yield* board.apply(ann, lessonId, op({ kind: "add", elementId: `e${i}`, props: { i } }))
        expect(yield* stored).toEqual([{ version: 3 }])
        yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "e6", props: { i: 6 } }))
        expect(yield* stored).toEqual([{ version: 6 }])
      }).pipe(Effect.provideService(BoardOptions, { snapshotEvery: 3, maxElements: 10_000 })))

    it.effect("a full board refuses adds and growing imports with BOARD_FULL, writing nothing", () =>
      Effect.gen(function*() {
        const board = yield* Board
        const { tutor, ann, lessonId } = yield* room
        for (const i of [1, 2, 3]) yield* board.apply(ann, lessonId, op({ kind: "add", elementId: `e${i}`, props: { i } }))
        expect(yield* failureCode(board.apply(ann, lessonId, op({ kind: "add", elementId: "e4", props: {} })))).toBe("BOARD_FULL")
        expect(yield* failureCode(board.importSnapshot(tutor, lessonId, { strategy: "merge", elements: [{ id: "n", props: {} }] })))
          .toBe("BOARD_FULL")
        expect(yield* headSeq(lessonId)).toBe(3)
        // Updates still work, and a replace that keeps the count is fine.
        expect((yield* board.apply(ann, lessonId, op({ kind: "update", elementId: "e1", props: { i: 9 } }))).outcome).toBe("applied")
        expect((yield* board.importSnapshot(tutor, lessonId, {
          strategy: "replace",
          elements: [{ id: "x", props: {} }, { id: "y", props: {} }, { id: "z", props: {} }]
        })).removed).toBe(3)
        yield* board.apply(ann, lessonId, op({ kind: "delete", elementId: "x" }))
        expect((yield* board.apply(ann, lessonId, op({ kind: "add", elementId: "e4", props: {} }))).outcome).toBe("applied")
      }).pipe(Effect.provideService(BoardOptions, { snapshotEvery: 100, maxElements: 3 })))
  })
})
