/**
 * Storage of web push subscriptions, one per browser endpoint: registering
 * (re-registering an endpoint moves it to the caller and re-enables it),
 * listing and removing the caller's own, and the delivery bookkeeping the push
 * job does — success resets the failure count, repeated failures disable it,
 * and a subscription the push service says is gone is deleted.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import type { PushTarget } from "../layers/PushSender.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { UserId } from "../schemas/Ids.ts"
import {
  PushSubscription,
  PushSubscriptionId,
  PushSubscriptionNotFound,
  type RegisterPushSubscriptionRequest
} from "../schemas/Push.ts"
import { ValidationError } from "../schemas/Errors.ts"

const Row = Schema.Struct({
  id: PushSubscriptionId,
  userId: UserId,
  endpoint: Schema.String,
  p256dh: Schema.String,
  auth: Schema.String,
  device: Schema.String,
  createdAt: Schema.DateTimeUtcFromDate,
  lastSuccessAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  failureCount: Schema.Number,
  disabledAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
})
type Row = typeof Row.Type

const columns = "id, user_id, endpoint, p256dh, auth, device, created_at, last_success_at, failure_count, disabled_at"

const toSubscription = (row: Row) =>
  PushSubscription.make({
    id: row.id,
    endpoint: row.endpoint,
    device: row.device,
    createdAt: row.createdAt,
    lastSuccessAt: row.lastSuccessAt,
    failureCount: row.failureCount,
    disabled: row.disabledAt !== null
  })

/** A subscription as the push job needs it. */
export interface StoredSubscription extends PushTarget {
  readonly id: PushSubscriptionId
  readonly userId: UserId
  readonly disabled: boolean
}

/** Push subscriptions. */
export class PushSubscriptions extends Effect.Service<PushSubscriptions>()("lectern/PushSubscriptions", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const decodeRows = Schema.decodeUnknown(Schema.Array(Row))
    const cols = sql.literal(columns)

    /** Registers this device for `userId` (same endpoint again: refreshed, re-enabled, moved to `userId`). */
    const register = (userId: UserId, request: RegisterPushSubscriptionRequest) =>
      Effect.gen(function*() {
        if (new URL(request.endpoint).protocol !== "https:" && !config.push.allowHttpEndpoints) {
          return yield* ValidationError.field("endpoint", "expected an https URL")
        }
        const rows = yield* sql`
          INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, device)
          VALUES (${userId}, ${request.endpoint}, ${request.keys.p256dh}, ${request.keys.auth}, ${request.device ?? ""})
          ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
            auth = excluded.auth, device = excluded.device, failure_count = 0, last_error = NULL,
            disabled_at = NULL, updated_at = now()
          RETURNING ${cols}`.pipe(Effect.flatMap(decodeRows))
        const row = rows[0]
        if (row === undefined) return yield* Effect.dieMessage("push subscription upsert returned no row")
        return toSubscription(row)
      }).pipe(storeCall, Effect.withSpan("PushSubscriptions.register"))

    /** The caller's subscriptions, oldest first. */
    const list = (userId: UserId) =>
      sql`SELECT ${cols} FROM push_subscriptions WHERE user_id = ${userId} ORDER BY created_at, id`.pipe(
        Effect.flatMap(decodeRows),
        Effect.map((rows) => rows.map(toSubscription)),
        storeCall
      )

    /** Unregisters one of the caller's devices. */
    const remove = (userId: UserId, id: PushSubscriptionId) =>
      sql`DELETE FROM push_subscriptions WHERE id = ${id} AND user_id = ${userId} RETURNING id`.pipe(
        Effect.flatMap((rows) =>
          rows.length === 0 ? Effect.fail(new PushSubscriptionNotFound({ subscriptionId: id })) : Effect.void
        ),
        storeCall
      )

    const toStored = (row: Row): StoredSubscription => ({
      id: row.id,
      userId: row.userId,
      endpoint: row.endpoint,
      p256dh: row.p256dh,
      auth: row.auth,
      disabled: row.disabledAt !== null
    })

    /** The enabled subscriptions of `userIds`. */
    const activeFor = (userIds: ReadonlyArray<UserId>) =>
      userIds.length === 0 ? Effect.succeed([]) : sql`
        SELECT ${cols} FROM push_subscriptions
        WHERE user_id = ANY(${userIds}::uuid[]) AND disabled_at IS NULL ORDER BY created_at, id`.pipe(
          Effect.flatMap(decodeRows),
          Effect.map((rows) => rows.map(toStored)),
          storeCall
        )

    /** One subscription, if it still exists. */
    const find = (id: PushSubscriptionId) =>
      sql`SELECT ${cols} FROM push_subscriptions WHERE id = ${id}`.pipe(
        Effect.flatMap(decodeRows),
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toStored)),
        storeCall
      )

    /** A delivery succeeded: the failure streak ends. */
    const recordSuccess = (id: PushSubscriptionId) =>
      sql`UPDATE push_subscriptions SET last_success_at = now(), failure_count = 0, last_error = NULL
          WHERE id = ${id}`.pipe(Effect.asVoid, storeCall)

    /** A delivery failed; after `PUSH_MAX_FAILURES` in a row the subscription is disabled. */
    const recordFailure = (id: PushSubscriptionId, error: string) =>
      sql<{ readonly failureCount: number; readonly disabled: boolean }>`
        UPDATE push_subscriptions SET failure_count = failure_count + 1, last_failure_at = now(),
          last_error = ${error.slice(0, 1000)},
          disabled_at = CASE WHEN failure_count + 1 >= ${config.push.maxFailures} THEN coalesce(disabled_at, now())
                             ELSE disabled_at END
        WHERE id = ${id}
        RETURNING failure_count, disabled_at IS NOT NULL AS disabled`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0])),
        storeCall
      )

    /** The push service says this subscription is gone: forget it. */
    const forget = (id: PushSubscriptionId) =>
      sql`DELETE FROM push_subscriptions WHERE id = ${id}`.pipe(Effect.asVoid, storeCall)

    return { register, list, remove, activeFor, find, recordSuccess, recordFailure, forget } as const
  })
}) {}
