/**
 * The LessonRoom actor: one per active lesson per process. It follows the
 * lesson's event log (`RoomLog.followWith`: gap-free, seq-ordered, across
 * processes), encodes each event ONCE and writes the same bytes to every local
 * subscriber, and keeps a ring of recent events so a reconnecting client can be
 * caught up without the database. When its follower fell behind the retained log
 * (events pruned before it read them) it ends the subscriptions that would miss
 * them with RESYNC_REQUIRED and continues from the head: a gap is never silent.
 * Persistence, authorization and commands are elsewhere (RoomLog, LessonChannel); registry and passivation in LessonRooms.
 */
import { Cause, Deferred, Effect, Exit, Metric, Option, Queue, Schedule, type Scope, type Tracer } from "effect"
import type { Connection } from "./ChannelKind.ts"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import { encodeFrame } from "../schemas/FrameCodec.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { ResyncRequired, RoomBusy } from "../schemas/RealtimeErrors.ts"
import { lessonChannel, type RoomEvent, type RoomPosition } from "../schemas/Room.ts"
import type { RoomEventsPruned, RoomLog } from "../services/RoomLog.ts"
import { parentFromTraceParent } from "../services/TraceContext.ts"

/** Where a joining subscriber stands after `join`. */
export type JoinOutcome =
  /** attached; live events follow everything up to `position` */
  | { readonly _tag: "Joined"; readonly position: RoomPosition; readonly replayed: number }
  /** the position is older than the ring (or ahead of it): recover from the log first, then join again */
  | { readonly _tag: "Behind"; readonly position: RoomPosition }

/** One room actor. */
export interface LessonRoom {
  readonly lessonId: LessonId
  /**
   * Attaches `conn`. With `from`, replays the ring's events after it (or answers
   * `Behind`); events up to `from.seq` are never sent to this member again.
   */
  readonly join: (conn: Connection, from?: RoomPosition) => Effect.Effect<JoinOutcome, RoomBusy>
  /** Detaches a connection. */
  readonly leave: (connectionId: string) => Effect.Effect<void>
  /** Local subscribers right now (for stats and tests). */
  readonly size: Effect.Effect<number>
}

type Message =
  /** From the follower of incarnation `generation`; a later incarnation ignores it (it re-reads from its position). */
  | { readonly _tag: "Event"; readonly event: RoomEvent; readonly generation: number }
  | {
    readonly _tag: "Join"
    readonly conn: Connection
    readonly from: RoomPosition | undefined
    readonly reply: Deferred.Deferred<JoinOutcome>
    /** The joiner's span: the actor handles the join in its own fiber, as a child of it. */
    readonly parent: Tracer.AnySpan | undefined
  }
  | { readonly _tag: "Leave"; readonly connectionId: string }
  /** The follower skipped to `position` (events before it were pruned unread): members behind it must resync. */
  | { readonly _tag: "Resync"; readonly position: RoomPosition; readonly pruned: RoomEventsPruned; readonly generation: number }

interface Member {
  readonly conn: Connection
  /** Durable events up to this seq were already sent (recovery); skip them. */
  readonly skipUntil: number
}

/** The span that published `event` (carried over the Bus); events read from the database have none. */
const originOf = (event: RoomEvent): Tracer.AnySpan | undefined =>
  event.traceParent === undefined ? undefined : Option.getOrUndefined(parentFromTraceParent(event.traceParent))

/** Room restarts after a defect, by lesson-independent count. */
export const roomRestarts = Metric.counter("lectern_room_restarts", { description: "Lesson room actor restarts after a failure" })

const mailboxCapacity = 4_096
// Messages the loop handles per wake-up (in order; a Join in a batch still sees every event before it).
const batchSize = 256

/**
 * Starts the actor for `lessonId` in the current scope, following the log from
 * its current head. `ringSize` recent durable events are kept for recovery.
 */
export const make = (
  log: RoomLog,
  lessonId: LessonId,
  ringSize: number
): Effect.Effect<LessonRoom, ServiceUnavailable, Scope.Scope> =>
  Effect.gen(function*() {
    const channel = lessonChannel(lessonId)
    const start = yield* log.head(lessonId)
    const actorScope = yield* Effect.scope
    const mailbox = yield* Effect.acquireRelease(Queue.bounded<Message>(mailboxCapacity), Queue.shutdown)

    // Actor state: touched only by the loop fiber.
    let epoch = start.epoch
    let seq = start.seq
    // Which incarnation's follower feeds the mailbox now (see `incarnation`).
    let generation = 0
    const members = new Map<string, Member>()
    // Ring of the last `ringSize` durable events as encoded frames, oldest first.
    const ring: Array<{ readonly seq: number; readonly frame: Uint8Array }> = []

    const deliver = (member: Member, frame: Uint8Array) => member.conn.deliver(channel, frame)

    /** Writes `frame` to every member past `skipUntil` — synchronously where the connection allows. */
    const fanOut = (frame: Uint8Array, seq: number) =>
      Effect.suspend(() => {
        const slow: Array<Member> = []
        for (const member of members.values()) {
          if (member.skipUntil >= seq) continue
          if (member.conn.unsafeDeliver === undefined) slow.push(member)
          else member.conn.unsafeDeliver(channel, frame)
        }
        return slow.length === 0 ? Effect.void : Effect.forEach(slow, (m) => deliver(m, frame), { discard: true })
      })

    const onEvent = (event: RoomEvent) =>
      Effect.suspend(() => {
        if (event.seq === 0) {
          // Ephemeral: no position, every member gets it.
          return fanOut(encodeFrame({ t: "event", channel, type: event.type, data: event.data }), Number.POSITIVE_INFINITY)
        }
        // Already delivered (re-read after a restart).
        if (event.epoch === epoch && event.seq <= seq) return Effect.void
        if (event.epoch !== epoch) {
          // The log was reset: what the ring holds belongs to the old epoch.
          epoch = event.epoch
          ring.length = 0
        }
        const frame = encodeFrame({ t: "event", channel, type: event.type, data: event.data, seq: event.seq, epoch })
        if (ringSize > 0 && (ring[ring.length - 1]?.seq ?? 0) < event.seq) {
          ring.push({ seq: event.seq, frame })
          if (ring.length > ringSize) ring.shift()
        }
        // The position advances only once everyone had the event: a restart after a failure
        // mid-fan-out delivers it again (clients drop the duplicate by seq) rather than losing it.
        return fanOut(frame, event.seq).pipe(Effect.zipRight(Effect.sync(() => {
          seq = event.seq
        })))
      })

    const onJoin = (conn: Connection, from: RoomPosition | undefined) =>
      Effect.suspend((): Effect.Effect<JoinOutcome> => {
        const here = { epoch, seq }
        if (from === undefined) {
          members.set(conn.connectionId, { conn, skipUntil: seq })
          return Effect.succeed({ _tag: "Joined", position: here, replayed: 0 })
        }
        if (from.epoch !== epoch) return Effect.succeed({ _tag: "Behind", position: here })
        // Ahead of this actor: the client recovered from the log past what the follower delivered yet.
        if (from.seq >= seq) {
          members.set(conn.connectionId, { conn, skipUntil: from.seq })
          return Effect.succeed({ _tag: "Joined", position: { epoch, seq: from.seq }, replayed: 0 })
        }
        const oldest = ring[0]?.seq ?? seq + 1
        if (from.seq < oldest - 1) return Effect.succeed({ _tag: "Behind", position: here })
        const missed = ring.filter((entry) => entry.seq > from.seq)
        const member = { conn, skipUntil: seq }
        members.set(conn.connectionId, member)
        return Effect.as(
          Effect.forEach(missed, (entry) => deliver(member, entry.frame), { discard: true }),
          { _tag: "Joined", position: here, replayed: missed.length } as const
        )
      })

    /**
     * Ends the subscription of every member that would miss events before `position` and moves the room there.
     * The revocations run on their own fiber: each one detaches through this actor's mailbox (`leave`), which
     * this loop drains.
     */
    const onResync = (position: RoomPosition, pruned: RoomEventsPruned) =>
      Effect.suspend(() => {
        const behind: Array<Member> = []
        for (const member of members.values()) {
          if (position.epoch !== epoch || member.skipUntil < position.seq) behind.push(member)
        }
        for (const member of behind) members.delete(member.conn.connectionId)
        if (position.epoch !== epoch || position.seq > seq) {
          epoch = position.epoch
          seq = position.seq
        }
        // The ring no longer continues up to the new position: recovery goes to the log (and resets there).
        ring.length = 0
        const error = new ResyncRequired({ channel })
        return Effect.logWarning("room follower skipped pruned events; subscribers behind the head must resync").pipe(
          Effect.annotateLogs({ from: pruned.from, to: pruned.to, head: position.seq, revoked: behind.length }),
          Effect.zipRight(Effect.forkIn(
            Effect.forEach(behind, (member) => member.conn.revoke(channel, error), { concurrency: "unbounded", discard: true }),
            actorScope
          )),
          Effect.asVoid
        )
      })

    const handle = (message: Message): Effect.Effect<void> => {
      switch (message._tag) {
        case "Event":
          if (message.generation !== generation) return Effect.void
          // One span per room event per process. Its parent is the publisher's span (from the Bus payload, possibly
          // another process), so a command's trace shows every room that fanned it out. Not made the current span
          // (the fan-out starts none; providing one copies the fiber's context per event), no stack capture.
          return Effect.useSpan("LessonRoom.deliver", {
            kind: "consumer",
            captureStackTrace: false,
            parent: originOf(message.event),
            attributes: { lessonId, "event.type": message.event.type, "event.seq": message.event.seq, members: members.size }
          }, () => onEvent(message.event))
        case "Leave":
          return Effect.sync(() => void members.delete(message.connectionId))
        case "Resync":
          return message.generation === generation ? onResync(message.position, message.pruned) : Effect.void
        case "Join":
          return onJoin(message.conn, message.from).pipe(
            Effect.flatMap((outcome) => Deferred.succeed(message.reply, outcome)),
            // A defect while joining must not leave the joiner waiting forever.
            Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Deferred.interrupt(message.reply)),
            Effect.asVoid,
            Effect.withSpan("LessonRoom.join", {
              captureStackTrace: false,
              parent: message.parent,
              attributes: { lessonId, "ws.connection.id": message.conn.connectionId, "user.id": message.conn.user.id }
            })
          )
      }
    }

    /**
     * Feeds the mailbox from the log from `from` on, straight from the follower's fiber (no stream in between: one
     * hand-off per event on the latency path). Back-pressure: a full mailbox slows the follower, which then catches
     * up from the database; the loop still takes whatever has queued in batches. Events pruned before they were
     * read: a Resync, then on from the head.
     */
    const follow = (from: RoomPosition, generation: number): Effect.Effect<void, ServiceUnavailable> =>
      Effect.scoped(Effect.flatten(
        log.followWith(lessonId, from, (event) => Effect.asVoid(Queue.offer(mailbox, { _tag: "Event", event, generation })))
      )).pipe(
          Effect.catchTag("RoomEventsPruned", (pruned) =>
            Effect.gen(function*() {
              const head = yield* log.head(lessonId)
              yield* Queue.offer(mailbox, { _tag: "Resync", position: head, pruned, generation })
              return yield* follow(head, generation)
            }))
        )

    /**
     * Follows the log from the last delivered position and runs the mailbox, until either fails. Events the
     * previous incarnation's follower queued are stale: handling them first would move the position past an event
     * whose fan-out failed, and the new follower's re-read of it would then be dropped as delivered (a gap).
     */
    const incarnation = Effect.scoped(Effect.gen(function*() {
      const follower = follow({ epoch, seq }, ++generation)
      const loop = Effect.forever(
        Effect.flatMap(Queue.takeBetween(mailbox, 1, batchSize), (batch) => Effect.forEach(batch, handle, { discard: true }))
      )
      return yield* Effect.raceFirst(follower, loop)
    }))

    // Supervision: a failure or defect restarts the incarnation, resuming from the last delivered seq.
    yield* incarnation.pipe(
      Effect.sandbox,
      Effect.tapError((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.logError("lesson room failed; restarting", cause).pipe(Effect.zipRight(Metric.increment(roomRestarts)))
      ),
      Effect.retry({
        schedule: Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds"))),
        while: (cause) => !Cause.isInterruptedOnly(cause)
      }),
      Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
      Effect.annotateLogs({ lessonId }),
      Effect.withSpan("LessonRoom", { attributes: { lessonId }, root: true }),
      // Started from the registry's uninterruptible reservation: the actor itself must stay stoppable.
      Effect.interruptible,
      Effect.forkScoped
    )

    /** Control messages fail fast on a full mailbox instead of queueing behind a flood. */
    const offer = (message: Message) =>
      Effect.suspend(() =>
        mailbox.unsafeSize().pipe(Option.getOrElse(() => 0)) >= mailboxCapacity
          ? Effect.fail(new RoomBusy({ lessonId }))
          : Effect.asVoid(Queue.offer(mailbox, message))
      )

    return {
      lessonId,
      join: (conn, from) =>
        Effect.gen(function*() {
          const reply = yield* Deferred.make<JoinOutcome>()
          const parent = yield* Effect.option(Effect.currentParentSpan)
          yield* offer({ _tag: "Join", conn, from, reply, parent: Option.getOrUndefined(parent) })
          return yield* Deferred.await(reply)
        }),
      leave: (connectionId) => Queue.offer(mailbox, { _tag: "Leave", connectionId }).pipe(Effect.asVoid),
      size: Effect.sync(() => members.size)
    } satisfies LessonRoom
  })

