/** The contract of account administration (`/api/v1/users/*`, admins only). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { InvalidCursor } from "../../schemas/Errors.ts"
import { UserId } from "../../schemas/Ids.ts"
import { Cursor, Limit } from "../../schemas/Pagination.ts"
import { RequestFields } from "../../schemas/Request.ts"
import {
  CreateUserRequest,
  EmailTaken,
  Role,
  UpdateUserRequest,
  User,
  UserNotFound,
  UserPage
} from "../../schemas/Users.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"

const UserIdPath = HttpApiSchema.param("id", UserId)

/** Account administration (admins only). */
export class UsersApi extends HttpApiGroup.make("users")
  .add(
    HttpApiEndpoint.post("create", "/")
      .setPayload(CreateUserRequest)
      .addSuccess(User, { status: 201 })
      .addError(httpError(EmailTaken, "EMAIL_TAKEN"))
      .annotate(OpenApi.Summary, "Create an account")
  )
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(RequestFields({
        role: Schema.optional(Role),
        cursor: Schema.optional(Cursor),
        limit: Schema.optional(Limit)
      }))
      .addSuccess(UserPage)
      .addError(httpError(InvalidCursor, "INVALID_CURSOR"))
      .annotate(OpenApi.Summary, "List accounts, oldest first, with cursor pagination")
  )
  .add(
    HttpApiEndpoint.get("get")`/${UserIdPath}`
      .addSuccess(User)
      .addError(httpError(UserNotFound, "USER_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Read an account")
  )
  .add(
    HttpApiEndpoint.patch("update")`/${UserIdPath}`
      .setPayload(UpdateUserRequest)
      .addSuccess(User)
      .addError(httpError(UserNotFound, "USER_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Change an account's role, name, disabled flag (disabling revokes its sessions) or targeting attributes")
  )
  .middleware(Authentication)
  .prefix("/api/v1/users")
  .annotate(OpenApi.Title, "Users")
{}
