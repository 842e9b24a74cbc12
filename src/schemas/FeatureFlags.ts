/**
 * Feature flags on the wire: the flag record with its targeting rules, admin
 * requests, and the OpenFeature-style evaluation result (value + reason).
 */
import { Schema } from "effect"
import { Role } from "./Users.ts"

/** A flag name: lowercase, digits, `.`, `_`, `-`; 1–100 characters. */
export const FlagName = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9._-]{0,99}$/, {
    message: () => "expected 1–100 lowercase letters, digits, '.', '_' or '-'"
  })
).annotations({ identifier: "FlagName", examples: ["realtime.whiteboard-v2"] })

/** A value an attribute rule may match. */
export const AttributeValue = Schema.Union(Schema.String, Schema.Number, Schema.Boolean)
/** @see AttributeValue */
export type AttributeValue = typeof AttributeValue.Type

/**
 * Targeting rules. A user is in when listed by id, or has one of the roles, or
 * matches every attribute key (each key: any of its listed values).
 */
export const FlagRules = Schema.Struct({
  userIds: Schema.optionalWith(Schema.Array(Schema.String).pipe(Schema.maxItems(10_000)), { default: () => [] }),
  roles: Schema.optionalWith(Schema.Array(Role), { default: () => [] }),
  attributes: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.Array(AttributeValue).pipe(Schema.minItems(1)) }),
    { default: () => ({}) }
  )
}).annotations({ identifier: "FlagRules" })
/** @see FlagRules */
export type FlagRules = typeof FlagRules.Type

/** Rollout share, a whole percentage 0–100. */
export const RolloutPercent = Schema.Int.pipe(
  Schema.between(0, 100, { message: () => "expected a whole number from 0 to 100" })
)

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

/** The evaluation of one flag for the caller. */
export class FlagEvaluation extends Schema.Class<FlagEvaluation>("FlagEvaluation")({
  name: Schema.String,
  enabled: Schema.Boolean,
  reason: EvaluationReason
}) {}
