/**
 * Flag evaluation as a pure function: global switch → expiry → listed users →
 * roles → attributes → percentage rollout. Rollout buckets users by murmur3 of
 * `flagName:userId` into 1–100 (as Unleash does), so a user in at 25 % stays in
 * at 50 %, and different flags bucket the same user independently.
 */
import { DateTime } from "effect"
import murmurhash from "murmurhash"
import type { EvaluationReason, FeatureFlag } from "../schemas/FeatureFlags.ts"
import type { UserId } from "../schemas/Ids.ts"
import type { AttributeValue, Role } from "../schemas/Users.ts"

/** Who a flag is evaluated for. */
export interface EvaluationContext {
  readonly userId: UserId
  readonly role: Role
  /** Targeting attributes: role, email_domain and the user's stored attributes (docs/feature-flags.md). */
  readonly attributes: Readonly<Record<string, AttributeValue>>
}

/** The rollout bucket of a user for a flag: 1–100, stable across processes and versions. */
export const rolloutBucket = (flagName: string, userId: string): number =>
  (murmurhash.v3(`${flagName}:${userId}`, 0) % 100) + 1

const attributesMatch = (
  rules: Readonly<Record<string, ReadonlyArray<AttributeValue>>>,
  attributes: Readonly<Record<string, AttributeValue>>
) => {
  const keys = Object.keys(rules)
  return keys.length > 0 && keys.every((key) => {
    const actual = attributes[key]
    return actual !== undefined && (rules[key] ?? []).some((allowed) => allowed === actual)
  })
}

/** Evaluates `flag` for `context` at time `now`. */
export const evaluateFlag = (
  flag: Pick<FeatureFlag, "name" | "enabled" | "expiresAt" | "rolloutPercent" | "rules">,
  context: EvaluationContext,
  now: DateTime.Utc
): { readonly enabled: boolean; readonly reason: EvaluationReason } => {
  if (!flag.enabled) return { enabled: false, reason: "DISABLED" }
  if (flag.expiresAt !== null && DateTime.lessThanOrEqualTo(flag.expiresAt, now)) {
    return { enabled: false, reason: "EXPIRED" }
  }
  if (flag.rules.userIds.includes(context.userId)) return { enabled: true, reason: "USER_LISTED" }
  if (flag.rules.roles.includes(context.role)) return { enabled: true, reason: "ROLE_MATCH" }
  if (attributesMatch(flag.rules.attributes, context.attributes)) return { enabled: true, reason: "ATTRIBUTE_MATCH" }
  return rolloutBucket(flag.name, context.userId) <= flag.rolloutPercent
    ? { enabled: true, reason: "ROLLOUT_IN" }
    : { enabled: false, reason: "ROLLOUT_OUT" }
}
