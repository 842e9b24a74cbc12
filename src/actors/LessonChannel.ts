/**
 * The `lesson:<id>` channel kind: who may enter a lesson's room (its tutor, its
 * students, admins — asked of `LessonAccess`), attaching a connection to the
 * lesson's room actor with recovery from a client's last position, and the
 * room's commands. Access is checked at subscribe and again whenever a lesson
 * membership notice arrives (students removed, lesson cancelled): whoever lost
 * it is unsubscribed by the server, so commands need no per-command check.
 * Storage is in the services (RoomLog, Chat, Board); fan-out in the LessonRoom
 * actor; presence in the PresenceTracker.
 */
import { Effect, Option, Schema } from "effect"
import type { PresenceEntry } from "../layers/PresenceStore.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import { encodeFrame, fieldsOf } from "../schemas/FrameCodec.ts"
import { LessonId } from "../schemas/Ids.ts"
import { UnknownCommand } from "../schemas/RealtimeErrors.ts"
import { lessonChannel, type RoomPosition } from "../schemas/Room.ts"
import { type LessonMembership, LessonAccess } from "../services/LessonAccess.ts"
import { RoomLog } from "../services/RoomLog.ts"
import { Users } from "../services/Users.ts"
import type { ChannelKind, Connection } from "./ChannelKind.ts"
import type { LessonRoom } from "./LessonRoom.ts"
import { LessonRooms } from "./LessonRooms.ts"
import { LessonSubscribers } from "./LessonSubscribers.ts"
import { PresenceTracker } from "./PresenceTracker.ts"

/** Where a subscriber stands after joining, sent in the subscribe's ack. */
export interface JoinAck {
  /** Live events follow everything up to this position. */
  readonly epoch: string
  readonly seq: number
  /** Events replayed (after the ack) to close the gap since `recover`. */
  readonly recovered: number
  /** The gap could not be replayed: reload the board snapshot and chat history, then continue from `seq`. */
  readonly reset: boolean
  /** The caller's relation to the lesson. */
  readonly role: LessonMembership["as"]
  /** Who is in the room now (this connection included); `presence.*` events follow as diffs. */
  readonly presence: ReadonlyArray<PresenceEntry>
}

/** Context a command handler gets. */
export interface CommandContext {
  readonly conn: Connection
  readonly lessonId: LessonId
  readonly membership: LessonMembership
}

/** A command handler of the lesson channel: decoded data in, ack data out. */
export type CommandHandler = (ctx: CommandContext, data: unknown) => Effect.Effect<unknown, CodedError>

/** Decodes command data with `schema`, naming bad fields in a VALIDATION_ERROR. */
export const decodeData = <A, I>(schema: Schema.Schema<A, I>, data: unknown) =>
  Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })(data).pipe(
    Effect.mapError((error) => new ValidationError({ fields: fieldsOf(error) }))
  )

const Typing = Schema.Struct({ typing: Schema.Boolean })
const Status = Schema.Struct({ status: Schema.Literal("online", "away") })

// Attempts at joining the room after reading the gap from the log (the ring can move on meanwhile).
const joinAttempts = 3

/** Builds the `lesson` channel kind with the command handlers `extra` builds (chat, board …). */
export const make = <E, R>(extraHandlers: Effect.Effect<Readonly<Record<string, CommandHandler>>, E, R>) =>
  Effect.gen(function*() {
    const extra = yield* extraHandlers
    const access = yield* LessonAccess
    const rooms = yield* LessonRooms
    const log = yield* RoomLog
    const presence = yield* PresenceTracker
    const watched = yield* LessonSubscribers
    const users = yield* Users

    const handlers: Record<string, CommandHandler> = {
      /** Typing indicator: ephemeral, fanned out to the room on every process, never stored. */
      typing: (ctx, data) =>
        Effect.flatMap(decodeData(Typing, data), ({ typing }) =>
          log.publishEphemeral(ctx.lessonId, "typing", { userId: ctx.conn.user.id, typing })),
      /** Presence status of this connection (online / away), announced to the room. */
      "presence.status": (ctx, data) =>
        Effect.flatMap(decodeData(Status, data), ({ status }) =>
          presence.setStatus(ctx.lessonId, ctx.conn.connectionId, status)),
      ...extra
    }

    /** Joins the room, replaying from the ring, else from the log, else telling the client to reset. */
    const join = (room: LessonRoom, conn: Connection, lessonId: LessonId, from: RoomPosition | undefined) =>
      Effect.gen(function*() {
        const channel = lessonChannel(lessonId)
        if (from === undefined) {
          const joined = yield* room.join(conn)
          if (joined._tag === "Behind") return yield* Effect.dieMessage("room refused a join without position")
          return { ...joined.position, recovered: 0, reset: false }
        }
        let position = from
        let recovered = 0
        for (let attempt = 0; attempt < joinAttempts; attempt++) {
          const joined = yield* room.join(conn, position)
          if (joined._tag === "Joined") return { ...joined.position, recovered: recovered + joined.replayed, reset: false }
          const missed = yield* log.since(lessonId, position)
          if (missed._tag === "Reset") break
          // Held back by the connection until the ack is sent, so they arrive right after it.
          for (const event of missed.events) {
            yield* conn.deliver(
              channel,
              encodeFrame({ t: "event", channel, type: event.type, data: event.data, seq: event.seq, epoch: event.epoch })
            )
          }
          recovered += missed.events.length
          const last = missed.events[missed.events.length - 1]
          if (last !== undefined) position = { epoch: last.epoch, seq: last.seq }
        }
        const joined = yield* room.join(conn)
        if (joined._tag === "Behind") return yield* Effect.dieMessage("room refused a join without position")
        return { ...joined.position, recovered, reset: true }
      })

    return {
      prefix: "lesson",
      subscribe: (conn, id, options) =>
        Effect.gen(function*() {
          const lessonId = Schema.decodeUnknownOption(LessonId)(id)
          if (Option.isNone(lessonId)) return yield* new Forbidden({ detail: "You are not a member of this lesson" })
          // Watched before access is read, so a membership change racing this subscribe is never missed.
          yield* watched.watch({ conn, lessonId: lessonId.value, channel: lessonChannel(lessonId.value), revokeOn: ["removed", "cancelled"] })
          const membership = yield* access.membership(conn.user, lessonId.value).pipe(
            Effect.catchTag("LessonNotFound", () => new Forbidden({ detail: "You are not a member of this lesson" }))
          )
          if (membership.status === "cancelled") {
            return yield* new Forbidden({ detail: "The lesson was cancelled; its room is closed" })
          }
          // Read once per subscribe (the name the room shows for this connection), not per heartbeat.
          const user = yield* users.findById(conn.user.id).pipe(
            Effect.catchTag("UserNotFound", () => new Forbidden({ detail: "You are not a member of this lesson" }))
          )
          const room = yield* rooms.acquire(lessonId.value)
          yield* Effect.addFinalizer(() => room.leave(conn.connectionId))
          const position = yield* join(room, conn, lessonId.value, options.recover)
          const present = yield* presence.join(lessonId.value, conn, membership.as, user.displayName)
          const ctx: CommandContext = { conn, lessonId: lessonId.value, membership }
          const ack: JoinAck = { ...position, role: membership.as, presence: present }
          return {
            ack,
            command: (type: string, data: unknown): Effect.Effect<unknown, CodedError> => {
              const handler = handlers[type]
              return handler === undefined || !Object.hasOwn(handlers, type)
                ? Effect.fail(new UnknownCommand({ channel: lessonChannel(lessonId.value), type }))
                : handler(ctx, data)
            }
          }
        }).pipe(Effect.withSpan("LessonChannel.subscribe", { attributes: { lessonId: id } }))
    } satisfies ChannelKind
  })
