/**
 * Sync clients (devices): registration on first contact, the last mutation id
 * processed for each (read and raised under the row lock, inside the caller's
 * transaction), the device list and revocation. Not the mutations themselves.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Option, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { Forbidden } from "../schemas/Errors.ts"
import { UserId } from "../schemas/Ids.ts"
import {
  SyncClientId,
  SyncClientNotFound,
  SyncClientRevoked,
  SyncClientTaken,
  SyncDevice
} from "../schemas/Sync.ts"

/** What a device says about itself. */
export interface DeviceDetails {
  readonly name?: string | undefined
  readonly platform?: string | undefined
}

const Row = Schema.Struct({
  clientId: SyncClientId,
  userId: UserId,
  deviceName: Schema.String,
  platform: Schema.String,
  lastMutationId: Schema.NumberFromString,
  createdAt: Schema.DateTimeUtcFromDate,
  lastSeenAt: Schema.DateTimeUtcFromDate,
  lastPushAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  lastPullAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  revokedAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
})
type Row = typeof Row.Type
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const toDevice = ({ deviceName, ...row }: Row) => SyncDevice.make({ ...row, name: deviceName })

/** Sync clients. */
export class SyncClients extends Effect.Service<SyncClients>()("lectern/SyncClients", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // bigint arrives as text from the driver: cast so both drivers agree
    const cols = sql.literal(
      "client_id, user_id, device_name, platform, last_mutation_id::text AS last_mutation_id, created_at, " +
        "last_seen_at, last_push_at, last_pull_at, revoked_at"
    )

    /**
     * Registers the client for the user on first contact, else records that it was
     * seen (and any new device details). Fails when it is revoked or someone else's.
     */
    const touch = (userId: UserId, clientId: SyncClientId, kind: "push" | "pull", device: DeviceDetails = {}) =>
      Effect.gen(function*() {
        const stamp = sql.literal(kind === "push" ? "last_push_at" : "last_pull_at")
        // The update only happens for the owner; a foreign client id returns no row.
        const rows = yield* sql`
          INSERT INTO sync_clients (client_id, user_id, device_name, platform, ${stamp})
          VALUES (${clientId}, ${userId}, ${device.name ?? ""}, ${device.platform ?? ""}, now())
          ON CONFLICT (client_id) DO UPDATE SET
            last_seen_at = now(),
            ${stamp} = now(),
            device_name = CASE WHEN ${device.name ?? null}::text IS NULL THEN sync_clients.device_name ELSE EXCLUDED.device_name END,
            platform = CASE WHEN ${device.platform ?? null}::text IS NULL THEN sync_clients.platform ELSE EXCLUDED.platform END
          WHERE sync_clients.user_id = EXCLUDED.user_id AND sync_clients.revoked_at IS NULL
          RETURNING ${cols}`.pipe(Effect.flatMap(decodeRows), storeCall)
        const row = rows[0]
        if (row !== undefined) return toDevice(row)
        const existing = yield* sql`SELECT user_id, revoked_at FROM sync_clients WHERE client_id = ${clientId}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({
            userId: UserId,
            revokedAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
          })))),
          storeCall
        )
        const other = existing[0]
        if (other !== undefined && other.userId !== userId) return yield* new SyncClientTaken({})
        return yield* new SyncClientRevoked({})
      }).pipe(Effect.withSpan("SyncClients.touch", { attributes: { clientId, kind } }))

    /**
     * Inside the caller's transaction: locks the client's row until commit and
     * returns its last processed mutation id (fails once it is revoked).
     */
    const lock = (clientId: SyncClientId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT last_mutation_id::text AS last_mutation_id, revoked_at FROM sync_clients
          WHERE client_id = ${clientId} FOR UPDATE`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({
            lastMutationId: Schema.NumberFromString,
            revokedAt: Schema.NullOr(Schema.DateTimeUtcFromDate)
          })))),
          storeCall
        )
        const row = rows[0]
        if (row === undefined || row.revokedAt !== null) return yield* new SyncClientRevoked({})
        return row.lastMutationId
      })

    /** Inside the caller's transaction (after `lock`): records `mutationId` as processed. */
    const advance = (clientId: SyncClientId, mutationId: number) =>
      sql`UPDATE sync_clients SET last_mutation_id = ${mutationId} WHERE client_id = ${clientId}`.pipe(
        Effect.asVoid,
        storeCall
      )

    /** The last processed mutation id of a client (0 before the first push). */
    const lastMutationId = (clientId: SyncClientId) =>
      sql`SELECT last_mutation_id::text AS last_mutation_id FROM sync_clients WHERE client_id = ${clientId}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ lastMutationId: Schema.NumberFromString })))),
        Effect.map((rows) => rows[0]?.lastMutationId ?? 0),
        storeCall
      )

    /** A user's devices, most recently seen first (an admin may list anyone's). */
    const list = (actor: Pick<CurrentUserInfo, "id" | "role">, userId: Option.Option<UserId>) =>
      Effect.gen(function*() {
        const target = Option.getOrElse(userId, () => actor.id)
        if (target !== actor.id && actor.role !== "admin") {
          return yield* new Forbidden({ detail: "Only admins can list another user's devices" })
        }
        const rows = yield* sql`
          SELECT ${cols} FROM sync_clients WHERE user_id = ${target}
          ORDER BY last_seen_at DESC, client_id`.pipe(Effect.flatMap(decodeRows), storeCall)
        return rows.map(toDevice)
      })

    /**
     * Revokes a device (its owner or an admin): its pushes and pulls fail from now
     * on and its stored checkpoints are deleted. Revoking twice keeps the first time.
     */
    const revoke = (actor: Pick<CurrentUserInfo, "id" | "role">, clientId: SyncClientId) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          UPDATE sync_clients SET revoked_at = coalesce(revoked_at, now()),
                                  revoked_by = CASE WHEN revoked_at IS NULL THEN ${actor.id}::uuid ELSE revoked_by END
          WHERE client_id = ${clientId} AND (user_id = ${actor.id} OR ${actor.role === "admin"})
          RETURNING ${cols}`.pipe(Effect.flatMap(decodeRows))
        const row = rows[0]
        if (row === undefined) return yield* new SyncClientNotFound({})
        yield* sql`DELETE FROM sync_checkpoints WHERE client_id = ${clientId}`
        return toDevice(row)
      }).pipe(sql.withTransaction, storeCall, Effect.withSpan("SyncClients.revoke", { attributes: { clientId } }))

    return { touch, lock, advance, lastMutationId, list, revoke } as const
  })
}) {}
