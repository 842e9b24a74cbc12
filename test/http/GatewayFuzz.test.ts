import { describe, expect, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { encodeFrame } from "../../src/schemas/FrameCodec.ts"
import { Packr } from "msgpackr"
import { CloseCodes } from "../../src/schemas/Frames.ts"
import { snapshot } from "../support/DbSnapshot.ts"
import { call } from "../support/Http.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request, type TestSocket } from "../support/Ws.ts"

const roomTables = ["room_heads", "room_events", "chat_messages", "board_elements", "board_ops", "board_snapshots", "lessons", "lesson_students"]
const packr = new Packr({ useRecords: false })

/** One hostile frame: random bytes, invalid msgpack, wrong types, huge strings, unknown types, bad command data. */
const hostileFrame = (channel: string) =>
  Effect.gen(function*() {
    const pick = yield* Random.nextIntBetween(0, 12)
    const id = yield* Random.nextIntBetween(0, 1_000_000)
    const bytes = (n: number) => Effect.map(Effect.all(Array.from({ length: n }, () => Random.nextIntBetween(0, 256))), (b) => new Uint8Array(b))
    switch (pick) {
      case 0:
        return yield* bytes(yield* Random.nextIntBetween(1, 200))
      case 1:
        return new Uint8Array([0xc1, ...(yield* bytes(8))]) // 0xc1 is never valid msgpack
      case 2:
        return new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]) // a map claiming 4 billion entries
      case 3:
        return packr.pack({ t: "sub", id: "seven", channel: 42 })
      case 4:
        return packr.pack({ t: "cmd", id, channel, type: "chat.send", data: { body: 12 } })
      case 5:
        return packr.pack({ t: "cmd", id, channel, type: "chat.send", data: { body: "x".repeat(30_000) } })
      case 6:
        return packr.pack({ t: "cmd", id, channel, type: "board.op", data: { kind: "explode", elementId: "" } })
      case 7:
        return packr.pack({ t: "cmd", id, channel, type: "chat.edit", data: { messageId: "nope", body: "hijack" } })
      case 8:
        return packr.pack({ t: `dance-${id}`, id })
      case 9:
        return packr.pack([1, "two", { three: null }, id])
      case 10:
        return packr.pack({ t: "sub", id, channel: `lesson:${"a".repeat(8)}-0000-4000-8000-${String(id).padStart(12, "0")}` })
      default:
        return packr.pack({ t: "cmd", id: -5, channel, type: "", data: "x".repeat(yield* Random.nextIntBetween(0, 20_000)) })
    }
  })

describe(`Gateway under hostile input (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("10 000 random and malformed frames get error frames or a policy close; others keep being served; nothing is written", () =>
      Effect.gen(function*() {
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const bystander = yield* connected(cast.tutor.token)
        yield* request(bystander, { t: "sub", channel })
        const before = yield* snapshot(roomTables)

        const open = Effect.gen(function*() {
          const socket = yield* connected(cast.student.token)
          yield* request(socket, { t: "sub", channel })
          return socket
        })
        let socket: TestSocket = yield* open
        let answered = 0
        let policyCloses = 0
        let tooLarge = 0
        for (let i = 0; i < 10_000; i++) {
          const seen = socket.frames.length
          yield* socket.sendRaw(yield* hostileFrame(channel))
          const first = yield* Effect.raceFirst(
            socket.waitFor((_) => socket.frames.length > seen, "5 seconds").pipe(Effect.as("answered" as const)),
            socket.closed
          )
          const answer = socket.frames[seen]
          if (first === "answered" && answer?.t !== "disconnect") {
            expect(answer?.t, JSON.stringify(answer)).toBe("error")
            answered++
            continue
          }
          // A policy close is announced by a disconnect frame with the same code.
          const outcome = first === "answered" ? yield* socket.closed : first
          if (answer?.t === "disconnect") expect(answer.code).toBe(outcome.code)
          expect([CloseCodes.POLICY_VIOLATION, 1009]).toContain(outcome.code)
          if (outcome.code === 1009) tooLarge++
          else policyCloses++
          socket = yield* open
        }
        expect(answered + policyCloses + tooLarge).toBe(10_000)
        expect(answered).toBeGreaterThan(5_000)
        expect(policyCloses).toBeGreaterThan(0)

        // Nothing was written, the server is alive and still serves the room.
        expect(yield* snapshot(roomTables)).toEqual(before)
        expect((yield* call("GET", "/health/live")).status).toBe(200)
        expect(bystander.isOpen()).toBe(true)
        expect(yield* request(bystander, { t: "cmd", channel, type: "chat.send", data: { body: "still here" } })).toMatchObject({ t: "ack" })
        yield* socket.waitFor((f) => f.t === "event" && f.type === "chat.created")
        expect(bystander.frames.filter((f) => f.t === "event" && f.seq !== undefined)).toHaveLength(1)
      }), { timeout: 120_000 })
  })
})

export { encodeFrame }
