/**
 * Room-log retention as a client sees it: after `rooms.prune` a client whose
 * position lies before the retained window is told to reset (never replayed
 * across a hole), one inside the window still gets every event it missed, and
 * chat history and the board — their own tables — lose nothing. A room whose
 * follower fell behind the retained log ends its subscriptions with
 * RESYNC_REQUIRED instead of skipping events silently.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Board } from "../../src/services/Board.ts"
import { Chat } from "../../src/services/Chat.ts"
import { RoomLog } from "../../src/services/RoomLog.ts"
import { RoomRetention } from "../../src/services/RoomRetention.ts"
import { appendEvent, appendPrunedUnread, withRoomLogOptions } from "../support/Room.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request } from "../support/Ws.ts"

const retainThree = withRoomLogOptions({ retainEvents: 3 })

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

    it.scoped("a room whose follower fell behind the retained log ends its subscriptions with RESYNC_REQUIRED; recovery then resets", () =>
      Effect.gen(function*() {
        const log = yield* RoomLog
        const cast = yield* lessonCast()
        const lessonId = cast.lesson.id
        const channel = `lesson:${lessonId}`
        const tutor = yield* connected(cast.tutor.token)
        const student = yield* connected(cast.student.token)
        yield* request(tutor, { t: "sub", channel })
        yield* request(student, { t: "sub", channel })
        const first = yield* appendEvent(lessonId, "chat.created", { n: 1 })
        yield* tutor.waitFor((f) => f.t === "event" && f.seq === 1)
        yield* student.waitFor((f) => f.t === "event" && f.seq === 1)

        // 2–7 committed without reaching the Bus; 2–4 pruned before the room's follower could read them.
        expect(yield* appendPrunedUnread(lessonId, 6, 3)).toBe(7)
        yield* appendEvent(lessonId, "chat.created", { n: 8 })
        for (const socket of [tutor, student]) {
          const ended = yield* socket.waitFor((f) => f.t === "unsubscribed")
          expect(ended).toMatchObject({ channel, code: "RESYNC_REQUIRED", detail: expect.any(String) })
          // Told, not skipped: nothing after seq 1 arrived on the old subscription.
          expect(socket.frames.filter((f) => f.t === "event" && f.seq !== undefined).map((f) => f.seq)).toEqual([1])
        }

        // Recovering from the last position cannot replay the pruned events: reset to the head.
        const { seq: head } = yield* log.head(lessonId)
        const again = yield* request(tutor, { t: "sub", channel, recover: { epoch: first.epoch, seq: 1 } })
        expect(again).toMatchObject({ t: "ack", data: { epoch: first.epoch, seq: head, recovered: 0, reset: true } })
        yield* appendEvent(lessonId, "chat.created", { n: 9 })
        yield* tutor.waitFor((f) => f.t === "event" && f.seq === head + 1)
        expect(tutor.frames.filter((f) => f.t === "event" && f.seq !== undefined).map((f) => f.seq)).toEqual([1, head + 1])
      }))
  })
})
