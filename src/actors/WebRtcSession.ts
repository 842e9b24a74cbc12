/**
 * One actor per live lesson call per process: it owns this process's connections
 * of the call, runs their commands one at a time through a bounded mailbox,
 * fans the call's Bus broadcasts out to them (encoded once), closes a connection
 * replaced by a second device, and ticks the session's timeouts. The session
 * itself lives in Postgres (`Calls`), so any number of processes can hold an
 * actor for the same call; none of them is special.
 */
import { Cause, Deferred, Effect, Exit, Metric, Queue, Schedule, Scope, Stream } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { encodeFrame } from "../schemas/FrameCodec.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { RoomBusy } from "../schemas/RealtimeErrors.ts"
import { type CallBroadcast, type CallDirect, callChannel, CallEvents } from "../services/CallEvents.ts"
import { Calls } from "../services/Calls.ts"
import { IceServers } from "../services/IceServers.ts"
import { callCommandTypes } from "../schemas/CallSignals.ts"
import { tickFor } from "../services/CallRules.ts"
import { handleCallCommand, signalCounter } from "./CallCommands.ts"
import type { Connection } from "./ChannelKind.ts"

/** Close code for a connection whose user joined the call from another device (do not reconnect as is). */
export const replacedCloseCode = 4504

/** Commands waiting per call per process before senders get ROOM_BUSY. */
export const mailboxCapacity = 256

/** Call actors alive in this process. */
export const callActors = Metric.gauge("lectern_call_actors", { description: "Call session actors in this process" })

const knownTypes: ReadonlySet<string> = new Set(callCommandTypes)

interface Command {
  readonly conn: Connection
  readonly type: string
  readonly data: unknown
  readonly reply: Deferred.Deferred<unknown, CodedError>
}

/** The handle of one call actor. */
export interface WebRtcSession {
  readonly lessonId: LessonId
  /** Adds a subscribed connection (it then receives the call's broadcasts). */
  readonly attach: (conn: Connection) => Effect.Effect<void>
  /** Removes it; a connection that was in the call leaves it (unless a second device took over). */
  readonly detach: (conn: Connection) => Effect.Effect<void>
  /** Runs a command from `conn` in order with the others; fails ROOM_BUSY when the mailbox is full. */
  readonly command: (conn: Connection, type: string, data: unknown) => Effect.Effect<unknown, CodedError>
  /** Hands a signal addressed to `conn`'s user to it, if that connection is the one in the call. */
  readonly deliverDirect: (conn: Connection, signal: CallDirect) => Effect.Effect<void>
}

/** Starts the actor of `lessonId` in the current scope. */
export const make = (lessonId: LessonId) =>
  Effect.gen(function*() {
    const calls = yield* Calls
    const ice = yield* IceServers
    const events = yield* CallEvents
    const { calls: config } = yield* AppConfig
    const channel = callChannel(lessonId)
    const connections = new Map<string, Connection>()
    /** userId → the local connection in the call. */
    const active = new Map<string, string>()
    const ctx = { calls, ice, lessonId, active }
    const mailbox = yield* Effect.acquireRelease(Queue.dropping<Command>(mailboxCapacity), Queue.shutdown)

    // The loop: one command at a time. A failed or defective command answers its
    // sender and the loop goes on (a defect is logged here, the supervision boundary).
    const runOne = (cmd: Command) =>
      handleCallCommand(ctx, cmd.conn, cmd.type, cmd.data).pipe(
        // Counted whether accepted or refused; unknown types share one label (bounded cardinality).
        Effect.ensuring(Metric.increment(signalCounter(knownTypes.has(cmd.type) ? cmd.type : "other"))),
        Effect.withSpan("WebRtcSession.signal", {
          attributes: { lessonId, "call.signal": cmd.type, "user.id": cmd.conn.user.id }
        }),
        Effect.exit,
        Effect.flatMap((exit) =>
          Exit.isFailure(exit) && !Cause.isFailType(exit.cause) && Cause.isDie(exit.cause)
            ? Effect.zipRight(Effect.logError("call command died", exit.cause), Deferred.done(cmd.reply, exit))
            : Deferred.done(cmd.reply, exit)
        )
      )
    // The registry creates actors inside an (uninterruptible) acquire: fibers are made
    // interruptible explicitly, or closing the actor's scope would wait on them forever.
    yield* Queue.take(mailbox).pipe(Effect.flatMap(runOne), Effect.forever, Effect.interruptible, Effect.forkScoped)

    const onBroadcast = (message: CallBroadcast) =>
      Effect.gen(function*() {
        switch (message.kind) {
          case "event": {
            // Local leaves and disconnects update `active` themselves; a remote process can
            // only end the call, replace a connection or remove someone (below).
            if (message.type === "call.ended") active.clear()
            const frame = encodeFrame({ t: "event", channel, type: message.type, data: message.data })
            yield* Effect.forEach(connections.values(), (conn) => conn.deliver(channel, frame), { discard: true })
            return
          }
          case "replaced": {
            const conn = connections.get(message.connectionId)
            if (active.get(message.userId) === message.connectionId) active.delete(message.userId)
            if (conn === undefined) return
            yield* conn.send({ channel, type: "call.replaced", data: { reason: "joined from another device" } })
            yield* conn.close(replacedCloseCode, "joined the call from another device")
            return
          }
          case "removed": {
            if (message.connectionId === null) return
            const conn = connections.get(message.connectionId)
            if (active.get(message.userId) === message.connectionId) active.delete(message.userId)
            if (conn !== undefined) yield* conn.send({ channel, type: "call.removed", data: { userId: message.userId } })
          }
        }
      })
    const broadcasts = yield* events.followBroadcast(lessonId)
    yield* broadcasts.pipe(Stream.runForEach(onBroadcast), Effect.interruptible, Effect.forkScoped)

    // Timeouts and heartbeats: any process holding the call may end it (the database
    // ends it once) or sweep out participants whose process stopped heartbeating.
    yield* Effect.suspend(() => calls.expire(lessonId, [...active.values()])).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("call timeout check failed", cause)),
      Effect.repeat(Schedule.spaced(tickFor(config))),
      Effect.interruptible,
      Effect.forkScoped
    )

    yield* Effect.acquireRelease(Metric.increment(callActors), () => Metric.incrementBy(callActors, -1))

    return {
      lessonId,
      attach: (conn) => Effect.sync(() => void connections.set(conn.connectionId, conn)),
      detach: (conn) =>
        Effect.gen(function*() {
          connections.delete(conn.connectionId)
          if (active.get(conn.user.id) !== conn.connectionId) return
          active.delete(conn.user.id)
          yield* calls.disconnected(conn.user, lessonId, conn.connectionId).pipe(
            Effect.catchAllCause((cause) => Effect.logWarning("call leave on disconnect failed", cause))
          )
        }),
      command: (conn, type, data) =>
        Effect.gen(function*() {
          const reply = yield* Deferred.make<unknown, CodedError>()
          const accepted = yield* Queue.offer(mailbox, { conn, type, data, reply })
          if (!accepted) return yield* new RoomBusy({ lessonId })
          return yield* Deferred.await(reply)
        }),
      deliverDirect: (conn, signal) =>
        active.get(conn.user.id) === conn.connectionId
          ? conn.send({ channel, type: signal.type, data: { from: signal.from, ...asRecord(signal.data) } })
          : Effect.void
    } satisfies WebRtcSession
  }).pipe(Effect.annotateLogs({ lessonId }))

const asRecord = (u: unknown): Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? { ...u } : { payload: u }

/**
 * The registry of this process's call actors: one per lesson, created on the
 * first subscriber and stopped with the last. Creation is under a lock, so many
 * concurrent first subscribers still find exactly one actor.
 */
export class WebRtcSessions extends Effect.Service<WebRtcSessions>()("lectern/WebRtcSessions", {
  scoped: Effect.gen(function*() {
    const context = yield* Effect.context<Calls | IceServers | CallEvents | AppConfig>()
    const actors = new Map<LessonId, { readonly actor: WebRtcSession; readonly scope: Scope.CloseableScope; refs: number }>()
    const lock = yield* Effect.makeSemaphore(1)
    yield* Effect.addFinalizer(() =>
      lock.withPermits(1)(Effect.forEach(actors.values(), (entry) => Scope.close(entry.scope, Exit.void), { discard: true }))
    )

    /** The actor of `lessonId` for the lifetime of the caller's scope. */
    const acquire = (lessonId: LessonId) =>
      Effect.acquireRelease(
        lock.withPermits(1)(Effect.gen(function*() {
          const existing = actors.get(lessonId)
          if (existing !== undefined) {
            existing.refs++
            return existing.actor
          }
          const scope = yield* Scope.make()
          const actor = yield* make(lessonId).pipe(Scope.extend(scope), Effect.provide(context))
          actors.set(lessonId, { actor, scope, refs: 1 })
          return actor
        })),
        () =>
          lock.withPermits(1)(Effect.gen(function*() {
            const entry = actors.get(lessonId)
            if (entry === undefined || --entry.refs > 0) return
            actors.delete(lessonId)
            yield* Scope.close(entry.scope, Exit.void)
          }))
      )

    /** How many actors this process runs (for tests and metrics). */
    const size = Effect.sync(() => actors.size)

    return { acquire, size } as const
  })
}) {}
