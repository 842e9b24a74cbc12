/**
 * Per-user choices of which kinds of notification to get in the app and as web
 * push. Only changes are stored; every kind and channel is on until turned off.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import type { UserId } from "../schemas/Ids.ts"
import {
  NotificationPreference,
  NotificationPreferences as Preferences,
  NotificationType,
  type UpdateNotificationPreferencesRequest
} from "../schemas/Notifications.ts"

/** Whether a user wants a kind of notification on each channel. */
export interface Channels {
  readonly inApp: boolean
  readonly push: boolean
}

const Row = Schema.Struct({
  userId: Schema.String,
  type: Schema.String,
  channel: Schema.Literal("in_app", "push"),
  enabled: Schema.Boolean
})

const allOn: Channels = { inApp: true, push: true }

/** Notification preferences. */
export class NotificationPreferences extends Effect.Service<NotificationPreferences>()("lectern/NotificationPreferences", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

    /** The channels of `type` for each of `userIds` (defaults included). */
    const channelsFor = (userIds: ReadonlyArray<UserId>, type: NotificationType) =>
      Effect.gen(function*() {
        const result = new Map<UserId, Channels>(userIds.map((id) => [id, allOn]))
        if (userIds.length === 0) return result
        const rows = yield* sql`
          SELECT user_id, type, channel, enabled FROM notification_preferences
          WHERE user_id = ANY(${userIds}::uuid[]) AND type = ${type}`.pipe(Effect.flatMap(decodeRows))
        for (const row of rows) {
          const id = userIds.find((u) => u === row.userId)
          if (id === undefined) continue
          const current = result.get(id) ?? allOn
          result.set(id, row.channel === "in_app" ? { ...current, inApp: row.enabled } : { ...current, push: row.enabled })
        }
        return result
      }).pipe(storeCall)

    /** Every kind with the user's choices. */
    const get = (userId: UserId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT user_id, type, channel, enabled FROM notification_preferences WHERE user_id = ${userId}`.pipe(
          Effect.flatMap(decodeRows)
        )
        const lookup = (type: string, channel: "in_app" | "push") =>
          rows.find((r) => r.type === type && r.channel === channel)?.enabled ?? true
        return Preferences.make({
          items: NotificationType.literals.map((type) =>
            NotificationPreference.make({ type, inApp: lookup(type, "in_app"), push: lookup(type, "push") })
          )
        })
      }).pipe(storeCall)

    /** Applies the changes (kinds and channels not named keep their value); returns every kind. */
    const update = (userId: UserId, request: UpdateNotificationPreferencesRequest) =>
      Effect.gen(function*() {
        // The same kind named twice: the last one wins (one row per kind and channel).
        const byKey = new Map<string, { userId: UserId; type: NotificationType; channel: string; enabled: boolean }>()
        for (const item of request.items) {
          if (item.inApp !== undefined) byKey.set(`${item.type}/in_app`, { userId, type: item.type, channel: "in_app", enabled: item.inApp })
          if (item.push !== undefined) byKey.set(`${item.type}/push`, { userId, type: item.type, channel: "push", enabled: item.push })
        }
        const changes = [...byKey.values()]
        if (changes.length > 0) {
          yield* sql`
            INSERT INTO notification_preferences ${sql.insert(changes)}
            ON CONFLICT (user_id, type, channel) DO UPDATE SET enabled = excluded.enabled, updated_at = now()`
        }
        return yield* get(userId)
      }).pipe(storeCall, Effect.withSpan("NotificationPreferences.update"))

    return { channelsFor, get, update } as const
  })
}) {}
