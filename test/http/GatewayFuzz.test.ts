import { describe, expect, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { randomBytes } from "node:crypto"
import { encodeFrame } from "../../src/schemas/FrameCodec.ts"
import { Packr } from "msgpackr"
import { CloseCodes } from "../../src/schemas/Frames.ts"
import { snapshot } from "../support/DbSnapshot.ts"
import { call } from "../support/Http.ts"
import { realtimeConfig } from "../support/Realtime.ts"
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
    const bytes = (n: number) => Effect.sync(() => new Uint8Array(randomBytes(n)))
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

// A higher garbage tolerance than production keeps reconnects (and wall time) down; the close still happens.
const config = realtimeConfig({ malformedBurst: 200 })

describe(`Gateway under hostile input (${backendLabel})`, () => {
  it.layer(serverStack({ realtime: config }), liveStack)((it) => {
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
        let unanswered = 0
        let policyCloses = 0
        let tooLarge = 0
        // Batches of 50 frames; each must be answered frame for frame, or end in a policy/size close.
        for (let sent = 0; sent < 10_000; sent += 50) {
          const seen = socket.frames.length
          for (let i = 0; i < 50; i++) yield* socket.sendRaw(yield* hostileFrame(channel))
          const first = yield* Effect.raceFirst(
            socket.waitFor((_) => socket.frames.length >= seen + 50 || socket.frames.at(-1)?.t === "disconnect", "10 seconds")
              .pipe(Effect.as("answered" as const)),
            socket.closed
          )
          const answers = socket.frames.slice(seen)
          const errors = answers.filter((f) => f.t === "error")
          expect(answers.filter((f) => f.t !== "error" && f.t !== "disconnect"), JSON.stringify(answers.slice(0, 3))).toEqual([])
          answered += errors.length
          if (first === "answered" && answers.at(-1)?.t !== "disconnect") continue
          // A close is announced by a disconnect frame with its code; frames after it are not read.
          const outcome = first === "answered" ? yield* socket.closed : first
          expect([CloseCodes.POLICY_VIOLATION, 1009]).toContain(outcome.code)
          if (outcome.code === 1009) tooLarge++
          else policyCloses++
          unanswered += 50 - errors.length
          socket = yield* open
        }
        expect(answered + unanswered).toBe(10_000)
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
