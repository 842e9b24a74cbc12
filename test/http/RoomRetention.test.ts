/**
 * Room-log retention as a client sees it: after `rooms.prune` a client whose
 * position lies before the retained window is told to reset (never replayed
 * across a hole), one inside the window still gets every event it missed, and
 * chat history and the board — their own tables — lose nothing.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Board } from "../../src/services/Board.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog, RoomLogOptions } from "../../src/services/RoomLog.ts"
import { RoomRetention } from "../../src/services/RoomRetention.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request } from "../support/Ws.ts"

const retainThree = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(RoomLogOptions, (options) => Effect.provideService(effect, RoomLogOptions, { ...options, retainEvents: 3 }))

describe(`room retention (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("a position before the retained window resets; inside it replays; chat and board keep everything", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const chat = yield* Chat
        const board = yield* Board
        const log = yield* RoomLog
        const cast = yield* lessonCast()
        const lessonId = cast.lesson.id
        const channel = `lesson:${lessonId}`
        const student = cast.student.user
        // seqs 1–4 chat, 5–6 board, 7 chat
        for (const body of ["one", "two", "three", "four"]) yield* chat.send(student, lessonId, { body })
        yield* board.apply(student, lessonId, { kind: "add", elementId: "r1", props: { x: 1 } })
        yield* board.apply(student, lessonId, { kind: "update", elementId: "r1", props: { x: 2 } })
        yield* chat.send(student, lessonId, { body: "five" })
        const { epoch, seq: head } = yield* log.head(lessonId)
        expect(head).toBe(7)

        yield* retainThree(Effect.flatMap(RoomRetention, (retention) => retention.prune))
        const kept = yield* sql<{ readonly seq: number | string }>`
          SELECT seq FROM room_events WHERE lesson_id = ${lessonId} ORDER BY seq`
        expect(kept.map((row) => Number(row.seq))).toEqual([5, 6, 7])

        // seq 3 would need event 4, which is gone: reset to the head, nothing replayed.
        const behind = yield* connected(cast.student.token)
        const behindAck = yield* request(behind, { t: "sub", channel, recover: { epoch, seq: 3 } })
        expect(behindAck).toMatchObject({ t: "ack", data: { epoch, seq: 7, recovered: 0, reset: true } })
        // seq 4 is the oldest position still covered: 5, 6 and 7 are replayed.
        const inside = yield* connected(cast.tutor.token)
        const insideAck = yield* request(inside, { t: "sub", channel, recover: { epoch, seq: 4 } })
        expect(insideAck).toMatchObject({ t: "ack", data: { epoch, seq: 7, recovered: 3, reset: false } })
        yield* inside.waitFor((f) => f.t === "event" && f.seq === 7)
        expect(inside.frames.filter((f) => f.t === "event" && f.seq !== undefined).map((f) => f.seq)).toEqual([5, 6, 7])

        // Live events continue for the reset client from the head it was given.
        yield* chat.send(student, lessonId, { body: "six" })
        yield* behind.waitFor((f) => f.t === "event" && f.seq === 8)
        expect(behind.frames.filter((f) => f.t === "event" && f.seq !== undefined).map((f) => f.seq)).toEqual([8])

        // What a reset client reloads is complete.
        const history = yield* chat.history(student, lessonId, {})
        expect(history.items.map((m) => m.body)).toEqual(["six", "five", "four", "three", "two", "one"])
        const snapshot = yield* board.snapshot(student, lessonId)
        expect(snapshot.elements.map((e) => [e.id, e.props])).toEqual([["r1", { x: 2 }]])
        const ops = yield* board.opsSince(student, lessonId, 0)
        expect(ops).toMatchObject({ snapshotRequired: false })
        expect(ops.ops.map((o) => [o.version, o.kind])).toEqual([[5, "add"], [6, "update"]])
      }))
  })
})
