/**
 * Feature flags on the wire: the flag record with its targeting rules, admin
 * requests, the OpenFeature-style evaluation result (value + reason), and flag
 * errors. Targeting attributes are described in docs/feature-flags.md.
 */
import { Schema } from "effect"
import { UserId } from "./Ids.ts"
import { RequestFields } from "./Request.ts"
import { attributeRecord, AttributeValue, Role } from "./Users.ts"

/** A flag name: lowercase letters, digits, `.`, `_`, `-`; 1–100 characters. */
export const FlagName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{0,99}$/, {
    message: () => "expected 1–100 lowercase letters, digits, '.', '_' or '-'"
  })
).annotations({ identifier: "FlagName", examples: ["realtime.whiteboard-v2"] })

/**
 * Targeting rules. A user is in when listed by id, or has one of the roles, or
 * matches every attribute key (each key: any of its listed values).
 */
export const FlagRules = Schema.Struct({
  userIds: Schema.optionalWith(
    Schema.Array(UserId).pipe(Schema.maxItems(10_000, { message: () => "at most 10000 users" })),
    { default: () => [] }
  ).annotations({ description: "Users who always get the flag (while it is enabled and not expired)" }),
  roles: Schema.optionalWith(Schema.Array(Role), { default: () => [] }).annotations({
    description: "Roles whose users always get the flag"
  }),
  attributes: Schema.optionalWith(
    attributeRecord(
      Schema.Array(AttributeValue).pipe(
        Schema.minItems(1, { message: () => "list at least one value" }),
        Schema.maxItems(100, { message: () => "at most 100 values" })
      )
    ).pipe(Schema.filter((rules) => Object.keys(rules).length <= 20 || "at most 20 attributes")),
    { default: () => ({}) }
  ).annotations({
    description: "attribute → accepted values; a user matches when every listed attribute has one of its values " +
      "(attributes: role, email_domain, and the user's stored attributes such as is_premium)"
  })
}).annotations({
  identifier: "FlagRules",
  examples: [{ userIds: [], roles: ["admin"], attributes: { is_premium: [true], email_domain: ["school.org"] } }]
})
/** @see FlagRules */
export type FlagRules = typeof FlagRules.Type

/** Rollout share, a whole percentage 0–100. */
export const RolloutPercent = Schema.Int.pipe(Schema.between(0, 100)).annotations({
  description: "Share of the remaining users (by consistent hash of flag name and user id) who get the flag",
  message: () => ({ message: "expected a whole number from 0 to 100", override: true })
})

const FlagDescription = Schema.String.pipe(Schema.maxLength(1000, { message: () => "at most 1000 characters" }))
const Owner = Schema.Trim.pipe(Schema.maxLength(200, { message: () => "at most 200 characters" })).annotations({
  description: "Who to ask about the flag (a person or team); defaults to the creating admin's email"
})
const ExpiresAt = Schema.NullOr(Schema.DateTimeUtc).annotations({
  description: "From this instant the flag is off for everyone (reason EXPIRED); null: never",
  message: () => ({ message: "expected an ISO 8601 instant or null", override: true })
})

/** A feature flag. */
export class FeatureFlag extends Schema.Class<FeatureFlag>("FeatureFlag")({
  name: FlagName,
  description: Schema.String,
  enabled: Schema.Boolean,
  rolloutPercent: RolloutPercent,
  rules: FlagRules,
  owner: Schema.String,
  expiresAt: Schema.NullOr(Schema.DateTimeUtc),
  createdAt: Schema.DateTimeUtc,
  updatedAt: Schema.DateTimeUtc
}) {}

/** Create a flag; it starts disabled with a 0 % rollout unless told otherwise. */
export class CreateFlagRequest extends Schema.Class<CreateFlagRequest>("CreateFlagRequest")(RequestFields({
  name: FlagName,
  description: Schema.optional(FlagDescription),
  enabled: Schema.optional(Schema.Boolean),
  rolloutPercent: Schema.optional(RolloutPercent),
  rules: Schema.optional(FlagRules),
  owner: Schema.optional(Owner),
  expiresAt: Schema.optional(ExpiresAt)
})) {}

/** Change a flag; absent fields keep their value, `rules` is replaced as a whole. */
export class UpdateFlagRequest extends Schema.Class<UpdateFlagRequest>("UpdateFlagRequest")(RequestFields({
  description: Schema.optional(FlagDescription),
  enabled: Schema.optional(Schema.Boolean),
  rolloutPercent: Schema.optional(RolloutPercent),
  rules: Schema.optional(FlagRules),
  owner: Schema.optional(Owner),
  expiresAt: Schema.optional(ExpiresAt)
})) {}

/** Why a flag evaluated the way it did (OpenFeature-style reasons). */
export const EvaluationReason = Schema.Literal(
  "DISABLED",
  "EXPIRED",
  "USER_LISTED",
  "ROLE_MATCH",
  "ATTRIBUTE_MATCH",
  "ROLLOUT_IN",
  "ROLLOUT_OUT",
  "NOT_FOUND"
).annotations({ identifier: "EvaluationReason" })
/** @see EvaluationReason */
export type EvaluationReason = typeof EvaluationReason.Type

/** The evaluation of one flag for one user. */
export class FlagEvaluation extends Schema.Class<FlagEvaluation>("FlagEvaluation")({
  name: Schema.String,
  enabled: Schema.Boolean,
  reason: EvaluationReason
}) {}

/** Every flag (admin view), by name. */
export class FlagList extends Schema.Class<FlagList>("FlagList")({
  items: Schema.Array(FeatureFlag)
}) {}

/** Every flag evaluated for the caller (`?forUser=true`), by name. */
export class EvaluatedFlags extends Schema.Class<EvaluatedFlags>("EvaluatedFlags")({
  flags: Schema.Array(FlagEvaluation)
}) {}

/** Query of `GET /feature-flags`. */
export const FlagListParams = RequestFields({
  forUser: Schema.optional(Schema.BooleanFromString).annotations({
    description: "true: the caller's evaluated flags (any user); absent or false: the flag records (admins only)"
  })
})

/** Query of `GET /feature-flags/check/{name}`. */
export const FlagCheckParams = RequestFields({
  userId: Schema.optional(UserId).annotations({ description: "Admins only: evaluate for this user instead of the caller" })
})

/** No flag with this name. */
export class FlagNotFound extends Schema.TaggedError<FlagNotFound>()("FlagNotFound", {
  name: Schema.optional(Schema.String)
}) {
  readonly code = "FLAG_NOT_FOUND" as const
  override get message() {
    return this.name === undefined ? "No feature flag with this name" : `No feature flag named ${this.name}`
  }
}

/** A flag with this name already exists. */
export class FlagExists extends Schema.TaggedError<FlagExists>()("FlagExists", {}) {
  readonly code = "FLAG_EXISTS" as const
  readonly fields = { name: "already taken" }
  override get message() {
    return "A feature flag with this name already exists"
  }
}
