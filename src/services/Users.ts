/**
 * Accounts storage: creating, reading, listing and updating users. Emails are
 * unique case-insensitively (index on lower(email)); the password hash never
 * leaves this module except through `findCredentials` for login.
 */
import { SqlClient, SqlSchema } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Option, Schema } from "effect"
import { isUniqueViolation, storeCall } from "../layers/SqlErrors.ts"
import { UserId } from "../schemas/Ids.ts"
import { EmailTaken, Role, User, UserAttributes, UserNotFound } from "../schemas/Users.ts"
import { decodeCursor, encodeCursor, exactTimestamp } from "./Cursor.ts"
import { Passwords } from "./Passwords.ts"

/** A users row as the database returns it (decoded, never trusted). */
const UserRow = Schema.Struct({
  id: UserId,
  email: Schema.String,
  displayName: Schema.String,
  role: Role,
  disabled: Schema.Boolean,
  // Read as text: PgClient would camelCase the keys of a jsonb value (is_premium → isPremium).
  attributes: Schema.parseJson(UserAttributes),
  createdAt: Schema.DateTimeUtcFromDate,
  updatedAt: Schema.DateTimeUtcFromDate
})

const userColumns = "id, email, display_name, role, disabled, attributes::text AS attributes, created_at, updated_at"

const CredentialsRow = Schema.Struct({ ...UserRow.fields, passwordHash: Schema.String })

const toUser = (row: typeof UserRow.Type): User => User.make(row)

const UserListRow = Schema.Struct({ ...UserRow.fields, cursorAt: Schema.String })

const UserCursor = Schema.Struct({ createdAt: Schema.String, id: UserId })

/** What an admin (or the CLI) provides to create an account. */
export interface NewUser {
  readonly email: string
  readonly password: string
  readonly role: Role
  readonly displayName?: string | undefined
}

/** Accounts. */
export class Users extends Effect.Service<Users>()("lectern/Users", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const passwords = yield* Passwords

    const insert = SqlSchema.single({
      Request: Schema.Struct({
        email: Schema.String,
        displayName: Schema.String,
        role: Role,
        passwordHash: Schema.String
      }),
      Result: UserRow,
      execute: (u) =>
        sql`INSERT INTO users ${sql.insert(u)}
            RETURNING ${sql.literal(userColumns)}`
    })

    const byId = SqlSchema.findOne({
      Request: UserId,
      Result: UserRow,
      execute: (id) =>
        sql`SELECT ${sql.literal(userColumns)} FROM users WHERE id = ${id}`
    })

    const byEmail = SqlSchema.findOne({
      Request: Schema.String,
      Result: CredentialsRow,
      execute: (email) =>
        sql`SELECT ${sql.literal(userColumns)}, password_hash
            FROM users WHERE lower(email) = lower(${email})`
    })

    const create = (input: NewUser) =>
      Effect.gen(function*() {
        const passwordHash = yield* passwords.hash(input.password)
        const displayName = input.displayName ?? input.email.split("@")[0] ?? input.email
        const row = yield* insert({ email: input.email, displayName, role: input.role, passwordHash }).pipe(
          Effect.catchTag("SqlError", (e): Effect.Effect<never, EmailTaken | SqlError> =>
            isUniqueViolation(e) ? Effect.fail(new EmailTaken({})) : Effect.fail(e))
        )
        yield* Effect.logInfo("user created").pipe(Effect.annotateLogs({ created_user_id: row.id, role: row.role }))
        return toUser(row)
      }).pipe(storeCall, Effect.withSpan("Users.create"))

    const findById = (id: UserId) =>
      byId(id).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new UserNotFound({ userId: id })),
          onSome: (row) => Effect.succeed(toUser(row))
        })),
        storeCall,
        Effect.withSpan("Users.findById")
      )

    /** The user and password hash for a login attempt. */
    const findCredentials = (email: string) =>
      byEmail(email).pipe(
        Effect.map(Option.map((row) => ({ user: toUser(row), passwordHash: row.passwordHash }))),
        storeCall
      )

    const list = (options: { readonly role?: Role | undefined; readonly cursor?: string | undefined; readonly limit: number }) =>
      Effect.gen(function*() {
        const after = options.cursor === undefined
          ? Option.none()
          : Option.some(yield* decodeCursor(UserCursor, options.cursor))
        const rows = yield* sql`
          SELECT ${sql.literal(userColumns)},
                 ${exactTimestamp(sql, "created_at")} AS cursor_at
          FROM users
          WHERE ${
          sql.and([
            ...(options.role === undefined ? [] : [sql`role = ${options.role}`]),
            ...Option.match(after, {
              onNone: () => [],
              onSome: (c) => [sql`(created_at, id) > (${c.createdAt}::timestamptz, ${c.id}::uuid)`]
            })
          ])
        }
          ORDER BY created_at, id
          LIMIT ${options.limit + 1}`.pipe(Effect.flatMap(Schema.decodeUnknown(Schema.Array(UserListRow))))
        const page = rows.slice(0, options.limit)
        const last = page.at(-1)
        const nextCursor = rows.length > options.limit && last !== undefined
          ? encodeCursor(UserCursor, { createdAt: last.cursorAt, id: last.id })
          : null
        return { items: page.map(toUser), nextCursor }
      }).pipe(storeCall, Effect.withSpan("Users.list"))

    const update = (
      id: UserId,
      patch: {
        readonly role?: Role | undefined
        readonly displayName?: string | undefined
        readonly disabled?: boolean | undefined
        readonly attributes?: UserAttributes | undefined
      }
    ) =>
      Effect.gen(function*() {
        const changes: Record<string, string | boolean> = {}
        if (patch.role !== undefined) changes.role = patch.role
        if (patch.displayName !== undefined) changes.display_name = patch.displayName
        if (patch.disabled !== undefined) changes.disabled = patch.disabled
        if (Object.keys(changes).length === 0 && patch.attributes === undefined) return yield* findById(id)
        const sets = [
          ...Object.entries(changes).map(([column, value]) => sql`${sql(column)} = ${value}`),
          ...(patch.attributes === undefined ? [] : [sql`attributes = ${JSON.stringify(patch.attributes)}::jsonb`]),
          sql`updated_at = now()`
        ]
        const rows = yield* sql`
          UPDATE users SET ${sql.csv(sets)} WHERE id = ${id}
          RETURNING ${sql.literal(userColumns)}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(UserRow)))
        )
        const row = rows[0]
        if (row === undefined) return yield* new UserNotFound({ userId: id })
        if (patch.disabled === true) {
          // A disabled account must not keep refreshing its way back in.
          yield* sql`UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = ${id} AND revoked_at IS NULL`
        }
        return toUser(row)
      }).pipe(sql.withTransaction, storeCall, Effect.withSpan("Users.update"))

    return { create, findById, findCredentials, list, update } as const
  }),
  dependencies: [Passwords.Default]
}) {}
