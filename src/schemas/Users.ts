/**
 * Accounts on the wire: roles, the public user record (never the password hash)
 * and the admin's create-user request.
 */
import { Schema } from "effect"
import { RequestFields } from "./Request.ts"
import { UserId } from "./Ids.ts"
import { Page } from "./Pagination.ts"

/** What a user is on the platform. */
export const Role = Schema.Literal("admin", "tutor", "student").annotations({
  identifier: "Role",
  message: () => ({ message: "expected admin, tutor or student", override: true })
})
/** @see Role */
export type Role = typeof Role.Type

/** An email address, trimmed; compared case-insensitively by the store. */
export const Email = Schema.Trim.pipe(
  Schema.maxLength(254, { message: () => "at most 254 characters" }),
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "expected an email address" })
).annotations({ identifier: "Email", examples: ["ada@example.com"] })

/** A password as chosen by a user: 10–256 characters. */
export const Password = Schema.String.pipe(
  Schema.minLength(10, { message: () => "at least 10 characters" }),
  Schema.maxLength(256, { message: () => "at most 256 characters" })
).annotations({ identifier: "Password", examples: ["correct horse battery"] })

/** A display name: 1–100 characters after trimming. */
export const DisplayName = Schema.Trim.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(100, { message: () => "at most 100 characters" })
)

/** Name of a user attribute: lowercase letters, digits and `_`, starting with a letter. */
export const AttributeKey = Schema.String.pipe(
  Schema.pattern(/^[a-z][a-z0-9_]{0,63}$/, {
    message: () => "expected 1–64 lowercase letters, digits or '_', starting with a letter"
  })
).annotations({ identifier: "AttributeKey", examples: ["is_premium"] })

/**
 * A record whose keys must be attribute names. A `Schema.Record` with a refined
 * key silently drops keys that do not match; here they are reported.
 */
export const attributeRecord = <A, I>(value: Schema.Schema<A, I>) =>
  Schema.Record({ key: AttributeKey, value }).annotations({ parseOptions: { onExcessProperty: "error" } })

/** A value of a user attribute: a string (≤ 200 characters), a number or a boolean. */
export const AttributeValue = Schema.Union(
  Schema.String.pipe(Schema.maxLength(200, { message: () => "at most 200 characters" })),
  Schema.Number,
  Schema.Boolean
).annotations({ identifier: "AttributeValue" })
/** @see AttributeValue */
export type AttributeValue = typeof AttributeValue.Type

/** Attribute names derived from the account itself, which stored attributes may not shadow. */
export const derivedAttributeKeys: ReadonlyArray<string> = ["role", "email_domain"]

/**
 * Free-form targeting facts about a user (e.g. `is_premium`, `country`), set by
 * admins and used by feature-flag attribute rules; at most 50.
 */
export const UserAttributes = attributeRecord(AttributeValue).pipe(
  Schema.filter((attributes) => {
    const keys = Object.keys(attributes)
    if (keys.length > 50) return "at most 50 attributes"
    const reserved = keys.find((key) => derivedAttributeKeys.includes(key))
    return reserved === undefined || `"${reserved}" is derived from the account and cannot be set`
  })
).annotations({ identifier: "UserAttributes", examples: [{ is_premium: true, country: "FR" }] })
/** @see UserAttributes */
export type UserAttributes = typeof UserAttributes.Type

/** A user as every caller may see it. */
export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  displayName: Schema.String,
  role: Role,
  disabled: Schema.Boolean,
  attributes: UserAttributes,
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc
}) {}

/** Admin request to create an account. */
export class CreateUserRequest extends Schema.Class<CreateUserRequest>("CreateUserRequest")(RequestFields({
  email: Email,
  password: Password,
  role: Role,
  displayName: Schema.optional(DisplayName)
})) {}

/** Admin request to change an account (role, name, disabled flag, targeting attributes). */
export class UpdateUserRequest extends Schema.Class<UpdateUserRequest>("UpdateUserRequest")(RequestFields({
  role: Schema.optional(Role),
  displayName: Schema.optional(DisplayName),
  disabled: Schema.optional(Schema.Boolean),
  attributes: Schema.optional(UserAttributes).annotations({
    description: "Replaces all stored attributes (feature-flag targeting, see docs/feature-flags.md)"
  })
})) {}

/** A page of users. */
export const UserPage = Page(User).annotations({ identifier: "UserPage" })

/** No user with this id. */
export class UserNotFound extends Schema.TaggedError<UserNotFound>()("UserNotFound", {
  userId: Schema.optional(Schema.String)
}) {
  readonly code = "USER_NOT_FOUND" as const
  override get message() {
    return "No user with this id"
  }
}

/** The email address is already registered. */
export class EmailTaken extends Schema.TaggedError<EmailTaken>()("EmailTaken", {}) {
  readonly code = "EMAIL_TAKEN" as const
  readonly fields = { email: "already registered" }
  override get message() {
    return "Another account already uses this email address"
  }
}
