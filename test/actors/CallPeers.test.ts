/**
 * A call spread over two server processes (two full stacks over one database and
 * bus): signals reach a target connected to the other process, the second screen
 * share is refused even when the two sharers race on different processes, and a
 * second device on the other process replaces the first.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { signedInCallCast } from "../support/CallCast.ts"
import { type Peer, peerServers } from "../support/PeerStacks.ts"
import { backendLabel, baseUrl } from "../support/TestStack.ts"
import { connected, type Frame, request } from "../support/Ws.ts"

const wsUrl = (peer: Peer) => peer.run(Effect.map(baseUrl, (url) => `${url.replace("http", "ws")}/ws`))

const inCallOn = (peer: Peer, token: string, lessonId: string) =>
  Effect.gen(function*() {
    // `connected` takes this peer's URL; its HttpServer requirement is met by the same peer.
    const socket = yield* connected(token, yield* wsUrl(peer)).pipe(Effect.provide(peer.context))
    const channel = `call:${lessonId}`
    expect((yield* request(socket, { t: "sub", channel })).t).toBe("ack")
    expect((yield* request(socket, { t: "cmd", channel, type: "join" })).t).toBe("ack")
    return {
      socket,
      cmd: (type: string, data?: unknown) => request(socket, { t: "cmd", channel, type, ...(data === undefined ? {} : { data }) })
    }
  })

const isEvent = (type: string) => (f: Frame) => f.t === "event" && f.type === type

describe(`a call across two server processes (${backendLabel})`, () => {
  it.scopedLive("relay across processes, SCREEN_SHARE_TAKEN under a cross-process race, second device on the other process", () =>
    Effect.gen(function*() {
      const [one, two] = yield* peerServers()
      const cast = yield* one.run(signedInCallCast(2))
      const lessonId = cast.lesson.id
      const [s1, s2] = cast.students
      if (s1 === undefined || s2 === undefined) return yield* Effect.dieMessage("cast")
      const host = yield* inCallOn(one, cast.tutor.token, lessonId)
      const a = yield* inCallOn(one, s1.token, lessonId)
      const b = yield* inCallOn(two, s2.token, lessonId)

      // Offer from process one to a participant on process two, and the answer back.
      expect((yield* host.cmd("offer", { to: s2.user.id, sdp: "v=0 cross" })).t).toBe("ack")
      expect((yield* b.socket.waitFor(isEvent("offer"))).data).toMatchObject({ from: cast.tutor.user.id, sdp: "v=0 cross" })
      expect((yield* b.cmd("answer", { to: cast.tutor.user.id, sdp: "v=0 back" })).t).toBe("ack")
      yield* host.socket.waitFor(isEvent("answer"))
      expect(a.socket.frames.filter((f) => isEvent("offer")(f) || isEvent("answer")(f))).toEqual([])

      // Two sharers on two processes at once: exactly one wins, whatever the timing.
      for (let round = 0; round < 3; round++) {
        const [x, y] = yield* Effect.all([a.cmd("screen_share_start"), b.cmd("screen_share_start")], { concurrency: 2 })
        const outcomes = [x, y].map((f) => f.t === "ack" ? "ok" : f.code).sort()
        expect(outcomes).toEqual(["SCREEN_SHARE_TAKEN", "ok"])
        const winner = x.t === "ack" ? a : b
        expect((yield* winner.cmd("screen_share_stop")).t).toBe("ack")
      }
      expect((yield* b.cmd("screen_share_start")).t).toBe("ack")
      expect((yield* a.cmd("screen_share_start")).code).toBe("SCREEN_SHARE_TAKEN")
      expect((yield* host.cmd("screen_share_start")).code).toBe("SCREEN_SHARE_TAKEN")

      // s1 joins again from a device on process two: the first (on process one) is told and closed.
      const phone = yield* inCallOn(two, s1.token, lessonId)
      yield* a.socket.waitFor(isEvent("call.replaced"))
      expect((yield* a.socket.closed).code).toBe(4504)
      yield* host.cmd("offer", { to: s1.user.id, sdp: "v=0 to-phone" })
      expect((yield* phone.socket.waitFor(isEvent("offer"))).data).toMatchObject({ sdp: "v=0 to-phone" })
    }), { timeout: 90_000 })
})
