/**
 * The signaling log of lesson calls: reading it (the host and admins only) and
 * its retention. Entries are written by `Calls` with every signal and change;
 * they never contain SDP or candidates.
 */
import { Clock, Duration, Effect, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { CallLogEntry, CallLogPage, type CallLogParams } from "../schemas/Calls.ts"
import { Forbidden } from "../schemas/Errors.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { roleOf } from "./CallRules.ts"
import type { Actor } from "./Calls.ts"
import { CallStore } from "./CallStore.ts"
import { decodeCursor, encodeCursor } from "./Cursor.ts"
import { LessonAccess } from "./LessonAccess.ts"

const LogCursor = Schema.Struct({ after: Schema.Number })

/** Reading and pruning the call signaling log. */
export class CallLog extends Effect.Service<CallLog>()("lectern/CallLog", {
  effect: Effect.gen(function*() {
    const store = yield* CallStore
    const access = yield* LessonAccess
    const { calls: config } = yield* AppConfig

    /** The log of the lesson's latest (or a named) session, oldest first, paged. */
    const read = (actor: Actor, lessonId: LessonId, params: CallLogParams) =>
      Effect.gen(function*() {
        const m = yield* access.membership(actor, lessonId)
        if (roleOf(m.as) !== "HOST" && m.as !== "admin") {
          return yield* new Forbidden({ detail: "Only the call's host or an admin can read its log" })
        }
        const after = params.cursor === undefined ? 0 : (yield* decodeCursor(LogCursor, params.cursor)).after
        const limit = params.limit ?? 200
        const session = yield* store.sessionOf(lessonId, Option.fromNullable(params.sessionId))
        if (Option.isNone(session)) return CallLogPage.make({ sessionId: null, items: [], nextCursor: null })
        const rows = yield* store.logPage(session.value.id, after, limit + 1)
        const page = rows.slice(0, limit)
        const last = page[page.length - 1]
        return CallLogPage.make({
          sessionId: session.value.id,
          items: page.map((r) => CallLogEntry.make({ seq: r.id, type: r.type, from: r.fromUser, to: r.toUser, at: r.at })),
          nextCursor: rows.length > limit && last !== undefined ? encodeCursor(LogCursor, { after: last.id }) : null
        })
      }).pipe(storeCall, Effect.withSpan("CallLog.read", { attributes: { lessonId } }))

    /** Deletes entries older than `CALL_LOG_RETENTION`; how many. */
    const prune = Effect.gen(function*() {
      const at = yield* Clock.currentTimeMillis
      return yield* store.pruneLog(new Date(at - Duration.toMillis(config.logRetention)))
    }).pipe(storeCall, Effect.withSpan("CallLog.prune"))

    return { read, prune } as const
  }),
  dependencies: [CallStore.Default]
}) {}
