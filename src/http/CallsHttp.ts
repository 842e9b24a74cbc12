/** Handlers for lesson calls; the rules live in `Calls`. */
import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { CallLog } from "../services/CallLog.ts"
import { Calls } from "../services/Calls.ts"
import { IceServers } from "../services/IceServers.ts"
import { Api } from "./Api.ts"
import { CurrentUser } from "./Authentication.ts"
import { CallInfo } from "../schemas/Calls.ts"

/** `/api/v1/lessons/{id}/call*`. */
export const CallsHttpLive = HttpApiBuilder.group(Api, "calls", (handlers) =>
  Effect.gen(function*() {
    const calls = yield* Calls
    const ice = yield* IceServers
    const callLog = yield* CallLog
    return handlers
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (me) => calls.info(me, path.id)))
      .handle("start", ({ path }) =>
        Effect.flatMap(CurrentUser, (me) =>
          Effect.gen(function*() {
            const { session } = yield* calls.start(me, path.id)
            return CallInfo.make({ session, role: "HOST", iceServers: yield* ice.forUser(me.id) })
          })))
      .handle("end", ({ path }) => Effect.flatMap(CurrentUser, (me) => calls.end(me, path.id)))
      .handle("log", ({ path, urlParams }) => Effect.flatMap(CurrentUser, (me) => callLog.read(me, path.id, urlParams)))
  }))
