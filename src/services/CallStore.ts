/**
 * The SQL of calls: sessions, participants and the signaling log, decoded with
 * Schema. No rules here (who may do what lives in `Calls`); every time is passed
 * in from the application clock. Unique-index violations are returned as values
 * where the rules need them (a live session already exists, a screen is shared).
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { isUniqueViolation } from "../layers/SqlErrors.ts"
import { CallEndReason, CallGrants, CallParticipant, CallRole, CallSession, CallSessionId } from "../schemas/Calls.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"

const SessionRow = Schema.Struct({
  id: CallSessionId,
  lessonId: LessonId,
  status: Schema.Literal("waiting", "active", "ended"),
  createdAt: Schema.DateTimeUtcFromDate,
  emptySince: Schema.NullOr(Schema.DateTimeUtcFromDate),
  expiresAt: Schema.DateTimeUtcFromDate,
  endedAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  endReason: Schema.NullOr(CallEndReason)
})
/** A session row. */
export type SessionRow = typeof SessionRow.Type

const ParticipantRow = Schema.Struct({
  userId: UserId,
  displayName: Schema.String,
  role: CallRole,
  canAudio: Schema.Boolean,
  canVideo: Schema.Boolean,
  canScreen: Schema.Boolean,
  audioMuted: Schema.Boolean,
  videoMuted: Schema.Boolean,
  screenSharing: Schema.Boolean,
  connectionId: Schema.NullOr(Schema.String),
  joinedAt: Schema.DateTimeUtcFromDate,
  leftAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  removed: Schema.Boolean
})
/** A participant row (present when `leftAt` is null). */
export type ParticipantRow = typeof ParticipantRow.Type

const LogRow = Schema.Struct({
  id: Schema.NumberFromString,
  type: Schema.String,
  fromUser: Schema.NullOr(UserId),
  toUser: Schema.NullOr(UserId),
  at: Schema.DateTimeUtcFromDate
})
/** A signaling log row. */
export type LogRow = typeof LogRow.Type

const sessions = Schema.decodeUnknown(Schema.Array(SessionRow))
const participants = Schema.decodeUnknown(Schema.Array(ParticipantRow))
const first = <A>(rows: ReadonlyArray<A>) => Option.fromNullable(rows[0])

/** The public view of a participant row. */
export const toParticipant = (row: ParticipantRow) =>
  CallParticipant.make({
    userId: row.userId,
    displayName: row.displayName,
    role: row.role,
    grants: CallGrants.make({ audio: row.canAudio, video: row.canVideo, screen: row.canScreen }),
    audioMuted: row.audioMuted,
    videoMuted: row.videoMuted,
    screenSharing: row.screenSharing,
    joinedAt: row.joinedAt
  })

/** The public view of a session and its present participants. */
export const toSession = (row: SessionRow, present: ReadonlyArray<ParticipantRow>) =>
  CallSession.make({
    id: row.id,
    lessonId: row.lessonId,
    status: row.status === "waiting" ? "WAITING" : row.status === "active" ? "ACTIVE" : "ENDED",
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    endedAt: row.endedAt,
    endReason: row.endReason,
    participants: present.map(toParticipant)
  })

/** Fields of a participant that rules change. */
export interface ParticipantChange {
  readonly canAudio?: boolean
  readonly canVideo?: boolean
  readonly canScreen?: boolean
  readonly audioMuted?: boolean
  readonly videoMuted?: boolean
  readonly screenSharing?: boolean
}

/** Call persistence. */
export class CallStore extends Effect.Service<CallStore>()("lectern/CallStore", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const sessionColumns = sql.literal(
      "id, lesson_id, status, created_at, empty_since, expires_at, ended_at, end_reason"
    )

    /** The lesson's live session; `lock` takes its row lock (inside a transaction) to serialise joins. */
    const liveSession = (lessonId: LessonId, lock = false) =>
      sql`SELECT ${sessionColumns} FROM call_sessions WHERE lesson_id = ${lessonId} AND status <> 'ended'
          ${lock ? sql.literal("FOR UPDATE") : sql.literal("")}`.pipe(Effect.flatMap(sessions), Effect.map(first))

    /** A session of the lesson by id, or its most recent one. */
    const sessionOf = (lessonId: LessonId, id: Option.Option<CallSessionId>) =>
      Option.match(id, {
        onNone: () =>
          sql`SELECT ${sessionColumns} FROM call_sessions WHERE lesson_id = ${lessonId}
              ORDER BY created_at DESC, id LIMIT 1`,
        onSome: (id) => sql`SELECT ${sessionColumns} FROM call_sessions WHERE lesson_id = ${lessonId} AND id = ${id}`
      }).pipe(Effect.flatMap(sessions), Effect.map(first))

    /** Inserts a live session; none when another one won the race (the unique index). */
    const insertSession = (lessonId: LessonId, startedBy: UserId, now: Date, expiresAt: Date) =>
      sql`INSERT INTO call_sessions (lesson_id, started_by, created_at, expires_at)
          VALUES (${lessonId}, ${startedBy}, ${now}, ${expiresAt})
          RETURNING ${sessionColumns}`.pipe(
        Effect.flatMap(sessions),
        Effect.map(first),
        Effect.catchIf((e) => e._tag === "SqlError" && isUniqueViolation(e), () => Effect.succeed(Option.none<SessionRow>()))
      )

    const participantSelect = sql`
      SELECT p.user_id, u.display_name, p.role, p.can_audio, p.can_video, p.can_screen, p.audio_muted,
             p.video_muted, p.screen_sharing, p.connection_id, p.joined_at, p.left_at, p.removed
      FROM call_participants p JOIN users u ON u.id = p.user_id`

    /** People currently in the session, by join time. */
    const present = (sessionId: CallSessionId) =>
      sql`${participantSelect} WHERE p.session_id = ${sessionId} AND p.left_at IS NULL ORDER BY p.joined_at, p.user_id`
        .pipe(Effect.flatMap(participants))

    /** One participant row (present or not). */
    const participant = (sessionId: CallSessionId, userId: UserId) =>
      sql`${participantSelect} WHERE p.session_id = ${sessionId} AND p.user_id = ${userId}`.pipe(
        Effect.flatMap(participants),
        Effect.map(first)
      )

    /**
     * Adds `userId` (or brings them back) on `connectionId`. A rejoin keeps the
     * grants the host set; media starts muted where the grants do not allow it.
     */
    const enter = (
      sessionId: CallSessionId,
      userId: UserId,
      role: CallRole,
      grants: CallGrants,
      connectionId: string,
      now: Date
    ) =>
      sql`INSERT INTO call_participants
            (session_id, user_id, role, can_audio, can_video, can_screen, audio_muted, video_muted,
             connection_id, joined_at, seen_at)
          VALUES (${sessionId}, ${userId}, ${role}, ${grants.audio}, ${grants.video}, ${grants.screen},
                  ${!grants.audio}, ${!grants.video}, ${connectionId}, ${now}, ${now})
          ON CONFLICT (session_id, user_id) DO UPDATE SET
            connection_id = excluded.connection_id,
            seen_at = excluded.seen_at,
            joined_at = CASE WHEN call_participants.left_at IS NULL THEN call_participants.joined_at ELSE excluded.joined_at END,
            audio_muted = CASE WHEN call_participants.left_at IS NULL THEN call_participants.audio_muted
                               ELSE NOT call_participants.can_audio END,
            video_muted = CASE WHEN call_participants.left_at IS NULL THEN call_participants.video_muted
                               ELSE NOT call_participants.can_video END,
            left_at = NULL`

    /** Records that the process holding these connections is alive (they stay in the call). */
    const heartbeat = (sessionId: CallSessionId, connectionIds: ReadonlyArray<string>, now: Date) =>
      connectionIds.length === 0
        ? Effect.void
        : Effect.asVoid(sql`UPDATE call_participants SET seen_at = ${now}
                            WHERE session_id = ${sessionId} AND left_at IS NULL AND connection_id IN ${sql.in(connectionIds)}`)

    /** Present participants without a heartbeat since `before` (their process died with them in the call). */
    const stale = (sessionId: CallSessionId, before: Date) =>
      sql`${participantSelect} WHERE p.session_id = ${sessionId} AND p.left_at IS NULL AND p.seen_at < ${before}`.pipe(
        Effect.flatMap(participants)
      )

    /** Marks `userId` gone (and not sharing); `removed` bars a rejoin. */
    const exit = (sessionId: CallSessionId, userId: UserId, now: Date, removed: boolean) =>
      sql`UPDATE call_participants SET left_at = ${now}, screen_sharing = false, connection_id = NULL,
            removed = removed OR ${removed}
          WHERE session_id = ${sessionId} AND user_id = ${userId} AND left_at IS NULL`

    /**
     * Applies `change` to a present participant. `Taken` when it would make a
     * second screen sharer (the partial unique index decides, across processes).
     */
    const change = (sessionId: CallSessionId, userId: UserId, change: ParticipantChange) =>
      Effect.gen(function*() {
        const set = Object.entries(change).filter(([, v]) => v !== undefined)
        if (set.length === 0) return "Done" as const
        const columns = Object.fromEntries(set.map(([k, v]) => [k, v]))
        return yield* sql`UPDATE call_participants SET ${sql.update(columns)}
                          WHERE session_id = ${sessionId} AND user_id = ${userId} AND left_at IS NULL`.pipe(
          Effect.as("Done" as const),
          Effect.catchIf(
            (e) => e._tag === "SqlError" && isUniqueViolation(e),
            () => Effect.succeed("Taken" as const)
          )
        )
      })

    /** Sets status and the empty marker after people came or went. */
    const touch = (sessionId: CallSessionId, presentCount: number, now: Date) =>
      sql`UPDATE call_sessions SET
            status = CASE WHEN status = 'waiting' AND ${presentCount} >= 2 THEN 'active' ELSE status END,
            activated_at = CASE WHEN activated_at IS NULL AND ${presentCount} >= 2 THEN ${now}::timestamptz ELSE activated_at END,
            empty_since = CASE WHEN ${presentCount} = 0 THEN coalesce(empty_since, ${now}::timestamptz) ELSE NULL END
          WHERE id = ${sessionId} AND status <> 'ended'`

    /** Ends the session (once); true when this call ended it. */
    const end = (sessionId: CallSessionId, reason: CallEndReason, now: Date) =>
      Effect.gen(function*() {
        const rows = yield* sql`UPDATE call_sessions SET status = 'ended', ended_at = ${now}, end_reason = ${reason}
                                WHERE id = ${sessionId} AND status <> 'ended' RETURNING id`
        if (rows.length === 0) return false
        yield* sql`UPDATE call_participants SET left_at = ${now}, screen_sharing = false, connection_id = NULL
                   WHERE session_id = ${sessionId} AND left_at IS NULL`
        return true
      })

    /** Appends a signaling log entry. */
    const log = (sessionId: CallSessionId, type: string, from: UserId | null, to: UserId | null, at: Date) =>
      sql`INSERT INTO call_signal_log (session_id, type, from_user, to_user, at)
          VALUES (${sessionId}, ${type}, ${from}, ${to}, ${at})`

    /** Log entries after `afterId`, oldest first. */
    const logPage = (sessionId: CallSessionId, afterId: number, limit: number) =>
      sql`SELECT id::text AS id, type, from_user, to_user, at FROM call_signal_log
          WHERE session_id = ${sessionId} AND id > ${afterId} ORDER BY id LIMIT ${limit}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(LogRow)))
      )

    /** Deletes log entries older than `before`; how many. */
    const pruneLog = (before: Date) =>
      sql`DELETE FROM call_signal_log WHERE at < ${before} RETURNING id`.pipe(Effect.map((rows) => rows.length))

    return {
      liveSession,
      sessionOf,
      insertSession,
      present,
      participant,
      enter,
      exit,
      heartbeat,
      stale,
      change,
      touch,
      end,
      log,
      logPage,
      pruneLog
    } as const
  })
}) {}
