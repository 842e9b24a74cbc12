/**
 * The presence tracker of this process: registers each local room subscriber in
 * the shared `PresenceStore`, refreshes their entries with heartbeats, announces
 * joins, status changes and leaves to the room (ephemeral room events, so every
 * process's subscribers see them), and reaps the expired entries of processes
 * that died — their users disappear within about `presenceTtl` plus a sweep.
 */
import { Clock, Duration, Effect, Schedule, type Scope } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { type PresenceEntry, PresenceStore } from "../layers/PresenceStore.ts"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { RoomLog } from "../services/RoomLog.ts"
import type { Connection } from "./ChannelKind.ts"

/** A presence status a client can set. */
export type PresenceStatus = PresenceEntry["status"]

/** Presence of local connections. */
export class PresenceTracker extends Effect.Service<PresenceTracker>()("lectern/PresenceTracker", {
  scoped: Effect.gen(function*() {
    const store = yield* PresenceStore
    const log = yield* RoomLog
    const { realtime } = yield* AppConfig
    const ttl = realtime.presenceTtl
    // Local entries per room: what this process heartbeats.
    const local = new Map<LessonId, Map<string, PresenceEntry>>()
    const roomKey = (lessonId: LessonId) => `lesson:${lessonId}`

    const forget = (lessonId: LessonId, connectionId: string) => {
      const entries = local.get(lessonId)
      entries?.delete(connectionId)
      if (entries?.size === 0) local.delete(lessonId)
    }

    /**
     * Enters `conn` into the lesson's presence, under the user's `displayName`,
     * for the lifetime of the scope and returns the room's presence list
     * (including this connection).
     */
    const join = (
      lessonId: LessonId,
      conn: Connection,
      role: string,
      displayName: string
    ): Effect.Effect<ReadonlyArray<PresenceEntry>, ServiceUnavailable, Scope.Scope> =>
      Effect.gen(function*() {
        const since = yield* Clock.currentTimeMillis
        const entry: PresenceEntry = {
          connectionId: conn.connectionId,
          userId: conn.user.id,
          displayName,
          role,
          status: "online",
          since
        }
        yield* Effect.acquireRelease(
          Effect.gen(function*() {
            yield* store.put(roomKey(lessonId), entry, ttl)
            const entries = local.get(lessonId) ?? new Map<string, PresenceEntry>()
            entries.set(conn.connectionId, entry)
            local.set(lessonId, entries)
          }),
          () =>
            Effect.gen(function*() {
              const current = local.get(lessonId)?.get(conn.connectionId) ?? entry
              forget(lessonId, conn.connectionId)
              const removed = yield* store.remove(roomKey(lessonId), conn.connectionId)
              if (removed) yield* log.publishEphemeral(lessonId, "presence.leave", { ...current, reason: "left" })
            }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("presence leave not recorded; it will expire", cause)))
        )
        yield* log.publishEphemeral(lessonId, "presence.join", entry)
        return yield* store.list(roomKey(lessonId))
      })

    /** Sets a local connection's status (online/away) and tells the room. */
    const setStatus = (lessonId: LessonId, connectionId: string, status: PresenceStatus) =>
      Effect.gen(function*() {
        const current = local.get(lessonId)?.get(connectionId)
        if (current === undefined || current.status === status) return
        const next: PresenceEntry = { ...current, status }
        local.get(lessonId)?.set(connectionId, next)
        yield* store.put(roomKey(lessonId), next, ttl)
        yield* log.publishEphemeral(lessonId, "presence.update", next)
      })

    /** The room's current presence list. */
    const list = (lessonId: LessonId) => store.list(roomKey(lessonId))

    /** Refreshes local entries, then reaps and announces expired ones (ghosts of dead processes). */
    const sweep = Effect.suspend(() => Effect.forEach([...local.entries()], ([lessonId, entries]) =>
      Effect.gen(function*() {
        yield* store.touch(roomKey(lessonId), [...entries.keys()], ttl)
        const ghosts = yield* store.reap(roomKey(lessonId))
        for (const ghost of ghosts) {
          yield* log.publishEphemeral(lessonId, "presence.leave", { ...ghost, reason: "timeout" })
        }
      }), { discard: true }))

    yield* sweep.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("presence sweep failed; retrying next beat", cause)),
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(100, Duration.toMillis(ttl) / 3)))),
      Effect.forkScoped
    )

    return { join, setStatus, list } as const
  })
}) {}
