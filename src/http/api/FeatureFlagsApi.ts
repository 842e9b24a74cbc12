/** The contract of feature flags (`/api/v1/feature-flags/*`): admin CRUD and evaluation for users. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  CreateFlagRequest,
  EvaluatedFlags,
  FeatureFlag,
  FlagCheckParams,
  FlagEvaluation,
  FlagExists,
  FlagList,
  FlagListParams,
  FlagName,
  FlagNotFound,
  UpdateFlagRequest
} from "../../schemas/FeatureFlags.ts"
import { UserNotFound } from "../../schemas/Users.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { flagExample, withExamples } from "./Examples.ts"

const FlagNamePath = HttpApiSchema.param("name", FlagName)
// Checks accept any name: an unknown (or misspelt) flag is simply off, reason NOT_FOUND.
const CheckNamePath = HttpApiSchema.param("name", Schema.String.pipe(Schema.maxLength(200)))

const notFound = httpError(FlagNotFound, "FLAG_NOT_FOUND")

const evaluation = "Evaluation order: `enabled` false → DISABLED; `expiresAt` passed → EXPIRED; user listed in " +
  "`rules.userIds` → USER_LISTED; role in `rules.roles` → ROLE_MATCH; every attribute in `rules.attributes` " +
  "matches → ATTRIBUTE_MATCH; otherwise the user's bucket (murmur3 of `name:userId`, 1–100) ≤ `rolloutPercent` " +
  "→ ROLLOUT_IN, else ROLLOUT_OUT. Attributes: `role`, `email_domain` (lowercased part after @) and the " +
  "user's stored attributes (set by admins via PATCH /api/v1/users/{id}, e.g. `is_premium`). Raising the " +
  "percentage never turns the flag off for a user who had it. See docs/feature-flags.md."

const adminOnly = "Admins only (others get 403 FORBIDDEN)."

/** Feature flags. */
export class FeatureFlagsApi extends HttpApiGroup.make("featureFlags")
  .add(
    HttpApiEndpoint.post("create", "/")
      .setPayload(CreateFlagRequest)
      .addSuccess(FeatureFlag, { status: 201 })
      .addError(httpError(FlagExists, "FLAG_EXISTS"))
      .annotate(OpenApi.Summary, "Create a feature flag")
      .annotate(
        OpenApi.Description,
        `${adminOnly} A new flag is disabled with a 0 % rollout unless told otherwise; \`owner\` defaults to ` +
          "the admin's email. Every server process sees the change within a second. " + evaluation
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: {
            name: "realtime.whiteboard-v2",
            description: "The new collaborative whiteboard",
            enabled: true,
            rolloutPercent: 25,
            rules: { roles: ["admin"], attributes: { is_premium: [true] } },
            expiresAt: "2026-12-31T00:00:00Z"
          },
          responses: { 201: { ...flagExample, rules: { ...flagExample.rules, userIds: [] } } }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/")
      .setUrlParams(FlagListParams)
      .addSuccess(Schema.Union(FlagList, EvaluatedFlags))
      .annotate(OpenApi.Summary, "List flags (admins), or with ?forUser=true every flag evaluated for the caller")
      .annotate(
        OpenApi.Description,
        "`?forUser=true` (any signed-in user): `{ flags: [{ name, enabled, reason }] }` for every flag, by " +
          "name — what an app loads at start-up. Without it: `{ items: [FeatureFlag] }`, every flag record " +
          `by name. ${adminOnly.replace("Admins only", "The records are for admins only")} Flags are few, so ` +
          "the list is not paginated. " + evaluation
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: {
            200: {
              flags: [
                { name: "chat.reactions", enabled: false, reason: "DISABLED" },
                { name: "realtime.whiteboard-v2", enabled: true, reason: "ROLLOUT_IN" }
              ]
            }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("check")`/check/${CheckNamePath}`
      .setUrlParams(FlagCheckParams)
      .addSuccess(FlagEvaluation)
      .addError(httpError(UserNotFound, "USER_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Is this flag on for me? → { name, enabled, reason }")
      .annotate(
        OpenApi.Description,
        "Any signed-in user, for themselves; admins may pass `userId` to evaluate for another user " +
          "(404 USER_NOT_FOUND if there is none). An unknown flag answers 200 with `enabled: false, reason: " +
          "NOT_FOUND`, so clients can check flags that are not created yet. Served from each process's cache, " +
          "which follows changes made on any process within a second. " + evaluation
      )
      .annotate(
        OpenApi.Transform,
        withExamples({ responses: { 200: { name: "realtime.whiteboard-v2", enabled: true, reason: "ROLLOUT_IN" } } })
      )
  )
  .add(
    HttpApiEndpoint.get("get")`/${FlagNamePath}`
      .addSuccess(FeatureFlag)
      .addError(notFound)
      .annotate(OpenApi.Summary, "Read a flag")
      .annotate(OpenApi.Description, adminOnly)
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: flagExample } }))
  )
  .add(
    HttpApiEndpoint.patch("update")`/${FlagNamePath}`
      .setPayload(UpdateFlagRequest)
      .addSuccess(FeatureFlag)
      .addError(notFound)
      .annotate(OpenApi.Summary, "Change a flag (switch, rollout, rules, expiry)")
      .annotate(
        OpenApi.Description,
        `${adminOnly} Absent fields keep their value; \`rules\` is replaced as a whole; \`expiresAt: null\` ` +
          "removes the expiry. The name cannot change. Every server process sees the change within a second."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: { rolloutPercent: 50 },
          responses: { 200: { ...flagExample, rolloutPercent: 50 } }
        })
      )
  )
  .add(
    HttpApiEndpoint.del("remove")`/${FlagNamePath}`
      .addSuccess(HttpApiSchema.NoContent)
      .addError(notFound)
      .annotate(OpenApi.Summary, "Delete a flag")
      .annotate(
        OpenApi.Description,
        `${adminOnly} Checks of a deleted flag answer \`enabled: false, reason: NOT_FOUND\`.`
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1/feature-flags")
  .annotate(OpenApi.Title, "Feature flags")
  .annotate(
    OpenApi.Description,
    "Roll features out to a share of users, to roles, to listed users or by user attributes."
  )
{}
