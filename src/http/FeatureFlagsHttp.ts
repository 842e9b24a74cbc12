/**
 * Handlers for feature flags: admin CRUD, and evaluation for the caller (or,
 * for admins, for any user). Evaluation uses the user's stored record, so a
 * role or attribute change applies without a new token.
 */
import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { EvaluatedFlags, FlagList } from "../schemas/FeatureFlags.ts"
import type { UserId } from "../schemas/Ids.ts"
import { UserNotFound } from "../schemas/Users.ts"
import { FeatureFlags } from "../services/FeatureFlags.ts"
import type { EvaluationContext } from "../services/FlagEvaluation.ts"
import { Api } from "./Api.ts"
import { CurrentUser, requireRole } from "./Authentication.ts"

/** `/api/v1/feature-flags/*`. */
export const FeatureFlagsHttpLive = HttpApiBuilder.group(Api, "featureFlags", (handlers) =>
  Effect.gen(function*() {
    const flags = yield* FeatureFlags
    const admin = requireRole("admin")

    /** The caller's targeting facts; a valid token whose account row is gone evaluates on what it says. */
    const callerContext = (me: CurrentUserInfo) =>
      Effect.map(flags.contextOf(me.id), Option.getOrElse((): EvaluationContext => ({
        userId: me.id,
        role: me.role,
        attributes: { role: me.role }
      })))

    /** Who to evaluate for: the caller, or (admins only) another user. */
    const contextFor = (me: CurrentUserInfo, userId: UserId | undefined) =>
      userId === undefined || userId === me.id
        ? callerContext(me)
        : Effect.zipRight(
          admin,
          Effect.flatMap(flags.contextOf(userId), Option.match({
            onNone: () => Effect.fail(new UserNotFound({ userId })),
            onSome: Effect.succeed
          }))
        )

    return handlers
      .handle("create", ({ payload }) => Effect.flatMap(admin, (me) => flags.create(me.id, payload)))
      .handle("list", ({ urlParams }) =>
        urlParams.forUser === true
          ? Effect.flatMap(CurrentUser, (me) =>
            callerContext(me).pipe(
              Effect.flatMap(flags.evaluateAll),
              Effect.map((evaluated) => EvaluatedFlags.make({ flags: evaluated }))
            ))
          : Effect.zipRight(admin, Effect.map(flags.list, (items) => FlagList.make({ items }))))
      .handle("check", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (me) =>
          Effect.flatMap(contextFor(me, urlParams.userId), (context) => flags.check(context, path.name))))
      .handle("get", ({ path }) => Effect.zipRight(admin, flags.get(path.name)))
      .handle("update", ({ path, payload }) => Effect.zipRight(admin, flags.update(path.name, payload)))
      .handle("remove", ({ path }) => Effect.zipRight(admin, flags.remove(path.name)))
  }))
