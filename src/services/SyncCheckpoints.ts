/**
 * Pull checkpoints: the positions a pull answered with, stored per device and
 * generation, and the opaque token the device holds for them — `{client, generation}`
 * signed with an HMAC key derived from the server secret. A token is checked
 * before anything is read; positions never select data (lessons come from access rules).
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Duration, Effect, Either, Option, Schema } from "effect"
import { createHmac, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../layers/AppConfig.ts"
import { JwtSecret } from "../layers/JwtSecret.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { InvalidCheckpoint, SyncClientId } from "../schemas/Sync.ts"

/** Where a device is in one lesson's event log. */
export const LogPosition = Schema.Struct({ epoch: Schema.String, seq: Schema.Number })
/** @see LogPosition */
export type LogPosition = typeof LogPosition.Type

/** Everything a checkpoint remembers. */
export interface Positions {
  readonly lessons: Readonly<Record<string, LogPosition>>
  /** The user's notification change number the device has seen. */
  readonly notificationsSeq: number
}

const TokenBody = Schema.Struct({ v: Schema.Literal(1), c: SyncClientId, g: Schema.Number.pipe(Schema.int(), Schema.positive()) })
const TokenJson = Schema.parseJson(TokenBody)

const StoredRow = Schema.Struct({
  lessons: Schema.Record({ key: Schema.String, value: LogPosition }),
  notificationsSeq: Schema.NumberFromString,
  createdAt: Schema.DateTimeUtcFromDate
})
const GenerationRow = Schema.Struct({ generation: Schema.NumberFromString })

/** Checkpoint tokens and their stored generations. */
export class SyncCheckpoints extends Effect.Service<SyncCheckpoints>()("lectern/SyncCheckpoints", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const secret = yield* JwtSecret
    // A key of its own, so a checkpoint MAC can never be mistaken for a token signature.
    const key = createHmac("sha256", secret.key).update("lectern/sync-checkpoint/v1").digest()
    const mac = (payload: string) => createHmac("sha256", key).update(payload).digest()

    const sign = (clientId: SyncClientId, generation: number) => {
      const payload = Buffer.from(Schema.encodeSync(TokenJson)({ v: 1, c: clientId, g: generation })).toString("base64url")
      return `${payload}.${mac(payload).toString("base64url")}`
    }

    /** The generation a token names; `InvalidCheckpoint` unless it is genuine and this client's. */
    const verify = (token: string, clientId: SyncClientId) =>
      Effect.gen(function*() {
        const [payload, signature, ...rest] = token.split(".")
        if (payload === undefined || signature === undefined || rest.length > 0) return yield* new InvalidCheckpoint({})
        const given = Buffer.from(signature, "base64url")
        const expected = mac(payload)
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) return yield* new InvalidCheckpoint({})
        const body = Schema.decodeUnknownEither(TokenJson)(Buffer.from(payload, "base64url").toString("utf8"))
        if (Either.isLeft(body) || body.right.c !== clientId) return yield* new InvalidCheckpoint({})
        return body.right.g
      })

    /** The positions of a stored generation; none when it is gone or older than the maximum age. */
    const load = (clientId: SyncClientId, generation: number) =>
      Effect.gen(function*() {
        const rows = yield* sql`
          SELECT lessons, notifications_seq::text AS notifications_seq, created_at FROM sync_checkpoints
          WHERE client_id = ${clientId} AND generation = ${generation}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(StoredRow))),
          storeCall
        )
        const row = rows[0]
        if (row === undefined) return Option.none<Positions>()
        const now = yield* DateTime.now
        const age = DateTime.distanceDuration(row.createdAt, now)
        if (Duration.greaterThan(age, config.sync.checkpointMaxAge)) return Option.none<Positions>()
        return Option.some<Positions>({ lessons: row.lessons, notificationsSeq: row.notificationsSeq })
      })

    /**
     * Stores `positions` as the client's next generation and returns its token.
     * Keeps only the generation the client presented (so a lost answer can be
     * pulled again) and the new one. Serialised per client by its row lock.
     */
    const save = (clientId: SyncClientId, presented: Option.Option<number>, positions: Positions) =>
      Effect.gen(function*() {
        yield* sql`SELECT 1 FROM sync_clients WHERE client_id = ${clientId} FOR UPDATE`
        const rows = yield* sql`
          INSERT INTO sync_checkpoints (client_id, generation, lessons, notifications_seq)
          SELECT ${clientId}, coalesce(max(generation), 0) + 1, ${JSON.stringify(positions.lessons)}::jsonb,
                 ${positions.notificationsSeq}
          FROM sync_checkpoints WHERE client_id = ${clientId}
          RETURNING generation::text AS generation`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(GenerationRow))))
        const generation = rows[0]?.generation
        if (generation === undefined) return yield* Effect.dieMessage("checkpoint insert returned no row")
        const keep = Option.match(presented, { onNone: () => [generation], onSome: (g) => [generation, g] })
        yield* sql`DELETE FROM sync_checkpoints WHERE client_id = ${clientId} AND generation NOT IN ${sql.in(keep)}`
        return sign(clientId, generation)
      }).pipe(sql.withTransaction, storeCall)

    return { verify, load, save } as const
  })
}) {}
