import { describe, expect, it } from "@effect/vitest"
import { DateTime, Schema } from "effect"
import murmurhash from "murmurhash"
import { randomUUID } from "node:crypto"
import { UserId } from "../../src/schemas/Ids.ts"
import { evaluateFlag, rolloutBucket } from "../../src/services/FlagEvaluation.ts"

const userId = Schema.decodeSync(UserId)
const u1 = userId("00000000-0000-4000-8000-000000000001")

const now = DateTime.unsafeMake("2026-06-01T12:00:00Z")
const student = { userId: u1, role: "student" as const, attributes: { is_premium: true, email_domain: "school.org" } }
const flag = (overrides: Partial<Parameters<typeof evaluateFlag>[0]> = {}) => ({
  name: "board-v2",
  enabled: true,
  expiresAt: null,
  rolloutPercent: 0,
  rules: { userIds: [], roles: [], attributes: {} },
  ...overrides
})

describe("flag evaluation", () => {
  it("follows the documented order: switch, expiry, users, roles, attributes, rollout", () => {
    expect(evaluateFlag(flag({ enabled: false, rolloutPercent: 100 }), student, now)).toEqual({
      enabled: false,
      reason: "DISABLED"
    })
    const expired = flag({ rolloutPercent: 100, expiresAt: DateTime.unsafeMake("2026-06-01T12:00:00Z"), rules: { userIds: [u1], roles: [], attributes: {} } })
    expect(evaluateFlag(expired, student, now)).toEqual({ enabled: false, reason: "EXPIRED" })
    const notYetExpired = flag({ expiresAt: DateTime.unsafeMake("2026-06-01T12:00:01Z"), rules: { userIds: [u1], roles: ["student"], attributes: {} } })
    expect(evaluateFlag(notYetExpired, student, now)).toEqual({ enabled: true, reason: "USER_LISTED" })
    expect(evaluateFlag(flag({ rules: { userIds: [], roles: ["student"], attributes: {} } }), student, now).reason)
      .toBe("ROLE_MATCH")
    expect(evaluateFlag(flag({ rules: { userIds: [], roles: ["tutor"], attributes: {} } }), student, now).reason)
      .toBe("ROLLOUT_OUT")
    expect(evaluateFlag(flag({ rolloutPercent: 100 }), student, now)).toEqual({ enabled: true, reason: "ROLLOUT_IN" })
  })

  it("attribute rules need every key to match one of its values", () => {
    const both = { userIds: [], roles: [], attributes: { is_premium: [true], email_domain: ["school.org", "uni.edu"] } }
    expect(evaluateFlag(flag({ rules: both }), student, now).reason).toBe("ATTRIBUTE_MATCH")
    const oneWrong = { userIds: [], roles: [], attributes: { is_premium: [true], email_domain: ["other.org"] } }
    expect(evaluateFlag(flag({ rules: oneWrong }), student, now).reason).toBe("ROLLOUT_OUT")
    const missing = { userIds: [], roles: [], attributes: { country: ["FR"] } }
    expect(evaluateFlag(flag({ rules: missing }), student, now).reason).toBe("ROLLOUT_OUT")
    // "true" the string is not true the boolean.
    const stringly = { userIds: [], roles: [], attributes: { is_premium: ["true"] } }
    expect(evaluateFlag(flag({ rules: stringly }), student, now).reason).toBe("ROLLOUT_OUT")
  })

  it("buckets are murmur3_32(\"flag:user\", seed 0) % 100 + 1", () => {
    // The published MurmurHash3 x86_32 vector, so the hash itself is the standard one…
    expect(murmurhash.v3("hello", 0)).toBe(0x248bfa47)
    // …and pinned buckets, so a change of key format (which would reshuffle every rollout) is caught.
    expect(rolloutBucket("board-v2", "u-1")).toBe(47)
    expect(rolloutBucket("board-v2", u1)).toBe(rolloutBucket("board-v2", "00000000-0000-4000-8000-000000000001"))
    expect(rolloutBucket("hello", "")).toBe(97)
  })

  it("rollout: over 10 000 random users, 25 % is 25 ± 2 %, and every user in at 25 % is in at 50 %", () => {
    const users = Array.from({ length: 10_000 }, () => userId(randomUUID()))
    const at = (percent: number) =>
      new Set(users.filter((id) => evaluateFlag(flag({ rolloutPercent: percent }), { ...student, userId: id }, now).enabled))
    const quarter = at(25)
    const half = at(50)
    expect(quarter.size / users.length).toBeGreaterThanOrEqual(0.23)
    expect(quarter.size / users.length).toBeLessThanOrEqual(0.27)
    for (const id of quarter) expect(half.has(id)).toBe(true)
    expect(at(0).size).toBe(0)
    expect(at(100).size).toBe(users.length)
  })

  it("different flags bucket the same users independently", () => {
    const users = Array.from({ length: 2_000 }, (_, i) => `user-${i}`)
    const inA = users.filter((id) => rolloutBucket("flag-a", id) <= 50)
    const inBoth = inA.filter((id) => rolloutBucket("flag-b", id) <= 50)
    expect(inBoth.length / inA.length).toBeGreaterThan(0.4)
    expect(inBoth.length / inA.length).toBeLessThan(0.6)
  })
})
