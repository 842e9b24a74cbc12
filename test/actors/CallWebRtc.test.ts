/**
 * Acceptance: two real WebRTC peers (werift, in this process, on loopback) use
 * Lectern as their only signaling path — subscribe and join over the realtime
 * WebSocket, offer/answer and trickled ICE relayed by the call channel — open a
 * data channel and exchange messages. Candidates are stripped from the SDPs, so
 * the connection can only come from the trickled `ice` signals. A third client
 * in the call sees none of the pair's signals.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, Queue } from "effect"
import { RTCPeerConnection } from "werift"
import { unpack } from "../../src/schemas/FrameCodec.ts"
import { signedInCallCast } from "../support/CallCast.ts"
import { call } from "../support/Http.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, type Frame, request, type TestSocket } from "../support/Ws.ts"

/** SDP without candidates: they must arrive by trickle. */
const withoutCandidates = (sdp: string) =>
  sdp.split("\r\n").filter((l) => !l.startsWith("a=candidate:") && l !== "a=end-of-candidates").join("\r\n")

interface Signal {
  readonly type: string
  readonly data: Record<string, unknown>
}

/** One peer: its socket in the call, its RTCPeerConnection, and the signals it received. */
const peer = (token: string, lessonId: string) =>
  Effect.gen(function*() {
    const socket = yield* connected(token)
    const channel = `call:${lessonId}`
    expect((yield* request(socket, { t: "sub", channel })).t).toBe("ack")
    const joined = yield* request(socket, { t: "cmd", channel, type: "join" })
    expect(joined.t).toBe("ack")
    const pc = yield* Effect.acquireRelease(Effect.sync(() => new RTCPeerConnection({ iceServers: [] })), (pc) =>
      Effect.promise(() => pc.close()))
    // werift and ws call back outside Effect: hand their events to fibers through queues.
    const incoming = yield* Queue.unbounded<Signal>()
    const outgoing = yield* Queue.unbounded<{ readonly type: string; readonly data: unknown }>()
    socket.ws.on("message", (bytes: Buffer) => {
      const frame = unpack(new Uint8Array(bytes))
      if (Either.isLeft(frame)) return
      const f = frame.right as Frame
      if (f.t === "event" && ["offer", "answer", "ice"].includes(String(f.type))) {
        incoming.unsafeOffer({ type: String(f.type), data: f.data as Record<string, unknown> })
      }
    })
    yield* Queue.take(outgoing).pipe(
      Effect.flatMap((s) => request(socket, { t: "cmd", channel, type: s.type, data: s.data })),
      Effect.tap((answer) => answer.t === "ack" ? Effect.void : Effect.dieMessage(`signal refused: ${JSON.stringify(answer)}`)),
      Effect.forever,
      Effect.forkScoped
    )
    const received: Array<Signal> = []
    return { socket, pc, incoming, outgoing, received, channel } as const
  })

/** Applies received offers, answers and candidates to `p`, answering offers (candidates wait for the description). */
const handleSignals = (p: Effect.Effect.Success<ReturnType<typeof peer>>, remoteId: string) =>
  Effect.gen(function*() {
    const pending: Array<Record<string, unknown> | null> = []
    let described = false
    const addCandidate = (c: Record<string, unknown> | null) =>
      Effect.promise(() => p.pc.addIceCandidate(c === null ? undefined : {
        candidate: String(c.candidate),
        sdpMid: typeof c.sdpMid === "string" ? c.sdpMid : null,
        sdpMLineIndex: typeof c.sdpMLineIndex === "number" ? c.sdpMLineIndex : null
      }))
    while (true) {
      const signal = yield* Queue.take(p.incoming)
      p.received.push(signal)
      expect(signal.data.from).toBe(remoteId)
      if (signal.type === "offer" || signal.type === "answer") {
        yield* Effect.promise(() => p.pc.setRemoteDescription({ type: signal.type as "offer" | "answer", sdp: String(signal.data.sdp) }))
        described = true
        if (signal.type === "offer") {
          const answer = yield* Effect.promise(() => p.pc.createAnswer())
          yield* Effect.promise(() => p.pc.setLocalDescription(answer))
          yield* Queue.offer(p.outgoing, { type: "answer", data: { to: remoteId, sdp: withoutCandidates(answer.sdp) } })
        }
        for (const c of pending.splice(0)) yield* addCandidate(c)
      } else if (signal.type === "ice") {
        const c = signal.data.candidate as Record<string, unknown> | null
        if (described) yield* addCandidate(c)
        else pending.push(c)
      }
    }
  })

/** Trickles `p`'s own candidates to `remoteId`. */
const trickle = (p: Effect.Effect.Success<ReturnType<typeof peer>>, remoteId: string) =>
  Effect.sync(() =>
    p.pc.onIceCandidate.subscribe((candidate) => {
      p.outgoing.unsafeOffer({ type: "ice", data: { to: remoteId, candidate: candidate === undefined ? null : candidate.toJSON() } })
    })
  )

const signalsSeen = (socket: TestSocket) =>
  socket.frames.filter((f) => f.t === "event" && ["offer", "answer", "ice"].includes(String(f.type)))

describe(`two real WebRTC peers signal through Lectern (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("join, offer/answer and trickle ICE over the call channel open a data channel on loopback", () =>
      Effect.gen(function*() {
        const cast = yield* signedInCallCast(2)
        const lessonId = cast.lesson.id
        const [bUser, cUser] = cast.students
        if (bUser === undefined || cUser === undefined) return yield* Effect.dieMessage("cast")
        const a = yield* peer(cast.tutor.token, lessonId)
        const b = yield* peer(bUser.token, lessonId)
        const c = yield* peer(cUser.token, lessonId) // in the call, but not part of this pair
        yield* trickle(a, bUser.user.id)
        yield* trickle(b, cast.tutor.user.id)
        yield* Effect.forkScoped(handleSignals(a, bUser.user.id))
        yield* Effect.forkScoped(handleSignals(b, cast.tutor.user.id))

        const bGot = yield* Deferred.make<string>()
        const aGot = yield* Deferred.make<string>()
        b.pc.onDataChannel.subscribe((channel) => {
          channel.onMessage.subscribe((message) => {
            Deferred.unsafeDone(bGot, Effect.succeed(message.toString()))
            channel.send("hello back from B")
          })
        })
        const dc = a.pc.createDataChannel("lectern")
        dc.onMessage.subscribe((message) => Deferred.unsafeDone(aGot, Effect.succeed(message.toString())))
        dc.stateChanged.subscribe((state) => {
          if (state === "open") dc.send("hello from A via Lectern signaling")
        })

        const offer = yield* Effect.promise(() => a.pc.createOffer())
        yield* Effect.promise(() => a.pc.setLocalDescription(offer))
        yield* Queue.offer(a.outgoing, { type: "offer", data: { to: bUser.user.id, sdp: withoutCandidates(offer.sdp) } })

        expect(yield* Deferred.await(bGot).pipe(Effect.timeout("20 seconds"))).toBe("hello from A via Lectern signaling")
        expect(yield* Deferred.await(aGot).pipe(Effect.timeout("10 seconds"))).toBe("hello back from B")
        expect(a.pc.connectionState).toBe("connected")

        // Every SDP crossed Lectern without candidates; candidates came only as trickled `ice` signals.
        // (werift gathers while setting the local description, so candidates may precede the offer.)
        const bTypes = b.received.map((s) => s.type)
        const offers = b.received.filter((s) => s.type === "offer")
        expect(offers).toHaveLength(1)
        expect(String(offers[0]?.data.sdp)).not.toContain("a=candidate:")
        expect(bTypes.filter((t) => t === "ice").length).toBeGreaterThan(0)
        expect(a.received.filter((s) => s.type === "answer")).toHaveLength(1)
        expect(a.received.filter((s) => s.type === "ice").length).toBeGreaterThan(0)
        // C was in the call the whole time and saw none of it.
        expect(signalsSeen(c.socket)).toEqual([])

        // The host's log has the exchange, without the SDP.
        const log = yield* call("GET", `/api/v1/lessons/${lessonId}/call/log?limit=1000`, { token: cast.tutor.token })
        const items = (log.json as { items: ReadonlyArray<{ type: string; from: string; to: string | null }> }).items
        expect(items.filter((e) => e.type === "offer")).toEqual([
          expect.objectContaining({ from: cast.tutor.user.id, to: bUser.user.id })
        ])
        expect(items.filter((e) => e.type === "answer")).toEqual([
          expect.objectContaining({ from: bUser.user.id, to: cast.tutor.user.id })
        ])
        expect(items.filter((e) => e.type === "ice").length).toBe(
          b.received.filter((s) => s.type === "ice").length + a.received.filter((s) => s.type === "ice").length
        )
        expect(log.text).not.toContain("v=0")
      }), { timeout: 60_000 })
  })
})
