/**
 * Accounts on the wire: roles, the public user record (never the password hash)
 * and the admin's create-user request.
 */
import { Schema } from "effect"
import { RequestFields } from "./Request.ts"
import { UserId } from "./Ids.ts"
import { Page } from "./Pagination.ts"

/** What a user is on the platform. */
export const Role = Schema.Literal("admin", "tutor", "student").annotations({ identifier: "Role" })
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

/** A user as every caller may see it. */
export class User extends Schema.Class<User>("User")({
  id: UserId,
  email: Schema.String,
  displayName: Schema.String,
  role: Role,
  disabled: Schema.Boolean,
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

/** Admin request to change an account (role, name, disabled flag). */
export class UpdateUserRequest extends Schema.Class<UpdateUserRequest>("UpdateUserRequest")(RequestFields({
  role: Schema.optional(Role),
  displayName: Schema.optional(DisplayName),
  disabled: Schema.optional(Schema.Boolean)
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
