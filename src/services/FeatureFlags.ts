/**
 * Feature flags: admin CRUD in Postgres, and evaluation for users from an
 * in-memory cache of every flag. A change reloads the flag here and is announced
 * on the Bus channel `flags` (payload: the flag's name) so every other process
 * reloads it too; a periodic full reload covers a lost announcement. All cache
 * writes run one at a time and read the database while holding the lock, so an
 * older read can never overwrite a newer one.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { DateTime, Effect, Option, Ref, Schedule, Schema, Stream } from "effect"
import { Packr } from "msgpackr"
import { AppConfig } from "../layers/AppConfig.ts"
import { Bus } from "../layers/Bus.ts"
import { isUniqueViolation, storeCall } from "../layers/SqlErrors.ts"
import {
  type CreateFlagRequest,
  FeatureFlag,
  FlagEvaluation,
  FlagExists,
  FlagName,
  FlagNotFound,
  FlagRules,
  type UpdateFlagRequest
} from "../schemas/FeatureFlags.ts"
import { UserId } from "../schemas/Ids.ts"
import { Role, UserAttributes } from "../schemas/Users.ts"
import { type EvaluationContext, evaluateFlag } from "./FlagEvaluation.ts"

/** The Bus channel announcing flag changes. */
export const flagsChannel = "flags"

const FlagRow = Schema.Struct({
  ...FeatureFlag.fields,
  // jsonb read as text: PgClient would rewrite attribute names inside it (is_premium → isPremium).
  rules: Schema.parseJson(FlagRules),
  expiresAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  createdAt: Schema.DateTimeUtcFromDate,
  updatedAt: Schema.DateTimeUtcFromDate
})
const decodeRows = Schema.decodeUnknown(Schema.Array(FlagRow))
const columns = "name, description, enabled, rollout_percent, rules::text AS rules, owner, expires_at, created_at, updated_at"

const ContextRow = Schema.Struct({
  id: UserId,
  role: Role,
  email: Schema.String,
  attributes: Schema.parseJson(UserAttributes)
})

// Plain msgpack (no records extension), like every Bus payload.
const packr = new Packr({ useRecords: false })
const Announcement = Schema.Struct({ name: FlagName })

/** Feature flags and their evaluation. */
export class FeatureFlags extends Effect.Service<FeatureFlags>()("lectern/FeatureFlags", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const bus = yield* Bus
    const { flagRefreshInterval } = yield* AppConfig
    const cache = yield* Ref.make<ReadonlyMap<string, FeatureFlag>>(new Map())
    const lock = yield* Effect.makeSemaphore(1)

    const selectAll = sql`SELECT ${sql.literal(columns)} FROM feature_flags ORDER BY name`.pipe(
      Effect.flatMap(decodeRows),
      Effect.map((rows) => rows.map((row) => FeatureFlag.make(row)))
    )
    const selectOne = (name: string) =>
      sql`SELECT ${sql.literal(columns)} FROM feature_flags WHERE name = ${name}`.pipe(
        Effect.flatMap(decodeRows),
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (row) => FeatureFlag.make(row)))
      )

    const reloadAll = lock.withPermits(1)(
      Effect.flatMap(selectAll, (flags) => Ref.set(cache, new Map(flags.map((flag) => [flag.name, flag]))))
    ).pipe(storeCall)

    const reloadOne = (name: string) =>
      lock.withPermits(1)(
        Effect.flatMap(selectOne(name), (flag) =>
          Ref.update(cache, (current) => {
            const next = new Map(current)
            Option.match(flag, { onNone: () => next.delete(name), onSome: (f) => next.set(name, f) })
            return next
          }))
      ).pipe(storeCall)

    // Subscribe before the first load so no change can fall between them.
    const announcements = yield* bus.subscribe(flagsChannel)
    yield* reloadAll
    yield* Stream.fromQueue(announcements).pipe(
      Stream.runForEach((payload) =>
        Effect.try(() => packr.unpack(payload) as unknown).pipe(
          Effect.flatMap(Schema.decodeUnknown(Announcement)),
          Effect.matchEffect({
            onSuccess: ({ name }) => reloadOne(name),
            onFailure: () => Effect.zipRight(Effect.logWarning("undecodable flag announcement; reloading all"), reloadAll)
          }),
          // Supervision boundary: a failed reload is logged and the next announcement or refresh repairs it.
          Effect.catchAllCause((cause) => Effect.logWarning("flag reload failed", cause))
        )
      ),
      Effect.forkScoped
    )
    yield* reloadAll.pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("periodic flag reload failed", cause)),
      Effect.repeat(Schedule.spaced(flagRefreshInterval)),
      Effect.delay(flagRefreshInterval),
      Effect.forkScoped
    )

    /**
     * Makes a committed change visible: here at once (read-your-writes), elsewhere
     * through the Bus. If the Bus is down the change is still committed; other
     * processes see it at their next periodic reload.
     */
    const announce = (name: string) =>
      Effect.zipRight(
        reloadOne(name),
        bus.publish(flagsChannel, packr.pack({ name })).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("flag change not announced; peers catch up on refresh", cause))
        )
      )

    /** Every flag, by name, from the database (the admin view; evaluation uses the cache). */
    const list = selectAll.pipe(storeCall, Effect.withSpan("FeatureFlags.list"))

    /** One flag from the database. */
    const get = (name: string) =>
      selectOne(name).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new FlagNotFound({ name })),
          onSome: Effect.succeed
        })),
        storeCall,
        Effect.withSpan("FeatureFlags.get")
      )

    /** Creates a flag; `owner` defaults to the creating admin's email. */
    const create = (creator: UserId, input: CreateFlagRequest) =>
      Effect.gen(function*() {
        const rules = yield* Schema.encode(FlagRules)(input.rules ?? { userIds: [], roles: [], attributes: {} })
        const owner = input.owner ?? (yield* sql<{ readonly email: string }>`SELECT email FROM users WHERE id = ${creator}`)[0]?.email ?? ""
        yield* sql`
          INSERT INTO feature_flags (name, description, enabled, rollout_percent, rules, owner, expires_at)
          VALUES (${input.name}, ${input.description ?? ""}, ${input.enabled ?? false}, ${input.rolloutPercent ?? 0},
                  ${JSON.stringify(rules)}::jsonb, ${owner},
                  ${input.expiresAt === undefined || input.expiresAt === null ? null : DateTime.formatIso(input.expiresAt)}::timestamptz)`
          .pipe(
            Effect.catchTag("SqlError", (e): Effect.Effect<never, FlagExists | SqlError> =>
              isUniqueViolation(e) ? Effect.fail(new FlagExists({})) : Effect.fail(e))
          )
        yield* announce(input.name)
        yield* Effect.logInfo("feature flag created").pipe(Effect.annotateLogs({ flag: input.name }))
        return yield* Effect.flatten(selectOne(input.name))
      }).pipe(storeCall, Effect.withSpan("FeatureFlags.create"))

    /** Changes a flag; absent fields keep their value. */
    const update = (name: string, patch: UpdateFlagRequest) =>
      Effect.gen(function*() {
        const sets = [
          ...(patch.description === undefined ? [] : [sql`description = ${patch.description}`]),
          ...(patch.enabled === undefined ? [] : [sql`enabled = ${patch.enabled}`]),
          ...(patch.rolloutPercent === undefined ? [] : [sql`rollout_percent = ${patch.rolloutPercent}`]),
          ...(patch.rules === undefined
            ? []
            : [sql`rules = ${JSON.stringify(yield* Schema.encode(FlagRules)(patch.rules))}::jsonb`]),
          ...(patch.owner === undefined ? [] : [sql`owner = ${patch.owner}`]),
          ...(patch.expiresAt === undefined
            ? []
            : [sql`expires_at = ${patch.expiresAt === null ? null : DateTime.formatIso(patch.expiresAt)}::timestamptz`])
        ]
        const updated = yield* sql`
          UPDATE feature_flags SET ${sql.csv([...sets, sql`updated_at = now()`])} WHERE name = ${name} RETURNING name`
        if (updated.length === 0) return yield* new FlagNotFound({ name })
        yield* announce(name)
        yield* Effect.logInfo("feature flag changed").pipe(Effect.annotateLogs({ flag: name }))
        return yield* Effect.flatten(selectOne(name))
      }).pipe(storeCall, Effect.withSpan("FeatureFlags.update"))

    /** Deletes a flag; checks of it answer NOT_FOUND afterwards. */
    const remove = (name: string) =>
      Effect.gen(function*() {
        const deleted = yield* sql`DELETE FROM feature_flags WHERE name = ${name} RETURNING name`
        if (deleted.length === 0) return yield* new FlagNotFound({ name })
        yield* announce(name)
        yield* Effect.logInfo("feature flag deleted").pipe(Effect.annotateLogs({ flag: name }))
      }).pipe(storeCall, Effect.withSpan("FeatureFlags.remove"))

    /**
     * The targeting facts of a user: role, email_domain and the stored attributes
     * (the derived ones win, so they cannot be spoofed through stored data).
     */
    const contextOf = (userId: UserId) =>
      sql`SELECT id, role, email, attributes::text AS attributes FROM users WHERE id = ${userId}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(ContextRow))),
        Effect.map((rows) =>
          Option.map(Option.fromNullable(rows[0]), (row): EvaluationContext => ({
            userId: row.id,
            role: row.role,
            attributes: {
              ...row.attributes,
              role: row.role,
              email_domain: (row.email.split("@").at(-1) ?? "").toLowerCase()
            }
          }))
        ),
        storeCall
      )

    const evaluateWith = (context: EvaluationContext, name: string) =>
      Effect.gen(function*() {
        const flag = (yield* Ref.get(cache)).get(name)
        if (flag === undefined) return FlagEvaluation.make({ name, enabled: false, reason: "NOT_FOUND" })
        return FlagEvaluation.make({ name, ...evaluateFlag(flag, context, yield* DateTime.now) })
      })

    /** Evaluates one flag for a user (an unknown flag is off with reason NOT_FOUND). */
    const check = (context: EvaluationContext, name: string) =>
      evaluateWith(context, name).pipe(Effect.withSpan("FeatureFlags.check", { attributes: { flag: name } }))

    /** Every flag evaluated for a user, by name. */
    const evaluateAll = (context: EvaluationContext) =>
      Effect.gen(function*() {
        const now = yield* DateTime.now
        const flags = [...(yield* Ref.get(cache)).values()].sort((a, b) => a.name < b.name ? -1 : 1)
        return flags.map((flag) => FlagEvaluation.make({ name: flag.name, ...evaluateFlag(flag, context, now) }))
      }).pipe(Effect.withSpan("FeatureFlags.evaluateAll"))

    return { list, get, create, update, remove, contextOf, check, evaluateAll } as const
  })
}) {}
