/** The contract of login, refresh, logout (`/api/v1/auth/*`) and the caller's own account (`/api/v1/me`). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { LoginRequest, RefreshRequest, TokenPair } from "../../schemas/Auth.ts"
import {
  AccountDisabled,
  InvalidCredentials,
  RefreshTokenInvalid,
  RefreshTokenReused
} from "../../schemas/Errors.ts"
import { User } from "../../schemas/Users.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"

/** Login, token refresh and logout. */
export class AuthApi extends HttpApiGroup.make("auth")
  .add(
    HttpApiEndpoint.post("login", "/login")
      .setPayload(LoginRequest)
      .addSuccess(TokenPair)
      .addError(httpError(InvalidCredentials, "INVALID_CREDENTIALS"))
      .addError(httpError(AccountDisabled, "ACCOUNT_DISABLED"))
      .annotate(OpenApi.Summary, "Exchange email and password for an access token and a refresh token")
  )
  .add(
    HttpApiEndpoint.post("refresh", "/refresh")
      .setPayload(RefreshRequest)
      .addSuccess(TokenPair)
      .addError(httpError(RefreshTokenInvalid, "REFRESH_TOKEN_INVALID"))
      .addError(httpError(RefreshTokenReused, "REFRESH_TOKEN_REUSED"))
      .addError(httpError(AccountDisabled, "ACCOUNT_DISABLED"))
      .annotate(OpenApi.Summary, "Rotate a refresh token: returns a new pair; the old refresh token is spent")
      .annotate(
        OpenApi.Description,
        "Each refresh token works once. Presenting a spent one revokes every token of its login session " +
          "(REFRESH_TOKEN_REUSED) because it indicates the token leaked."
      )
  )
  .add(
    HttpApiEndpoint.post("logout", "/logout")
      .setPayload(RefreshRequest)
      .addSuccess(HttpApiSchema.NoContent)
      .addError(httpError(RefreshTokenInvalid, "REFRESH_TOKEN_INVALID"))
      .annotate(OpenApi.Summary, "End the login session the refresh token belongs to")
  )
  .prefix("/api/v1/auth")
  .annotate(OpenApi.Title, "Authentication")
{}

/** The caller's own account. */
export class MeApi extends HttpApiGroup.make("me")
  .add(
    HttpApiEndpoint.get("me", "/me")
      .addSuccess(User)
      .addError(httpError(AccountDisabled, "ACCOUNT_DISABLED"))
      .annotate(OpenApi.Summary, "The authenticated user")
  )
  .middleware(Authentication)
  .prefix("/api/v1")
  .annotate(OpenApi.Title, "Me")
{}
