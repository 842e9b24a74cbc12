/**
 * The ICE server list handed to call participants. With a TURN shared secret
 * configured, `turn:`/`turns:` URLs carry time-limited credentials in the TURN
 * REST API format (coturn `use-auth-secret`): username `<expiry unix seconds>:<userId>`,
 * credential base64(HMAC-SHA1(secret, username)).
 */
import { Clock, Duration, Effect, Option, Redacted } from "effect"
import { createHmac } from "node:crypto"
import { AppConfig } from "../layers/AppConfig.ts"
import { IceServer } from "../schemas/Calls.ts"
import type { UserId } from "../schemas/Ids.ts"

/** TURN REST credentials for `userId` valid until `expiresAtSeconds` (unix time). */
export const turnCredentials = (secret: string, userId: string, expiresAtSeconds: number) => {
  const username = `${expiresAtSeconds}:${userId}`
  return { username, credential: createHmac("sha1", secret).update(username).digest("base64") }
}

const isTurn = (url: string) => url.startsWith("turn:") || url.startsWith("turns:")

/** ICE servers for one participant. */
export class IceServers extends Effect.Service<IceServers>()("lectern/IceServers", {
  effect: Effect.gen(function*() {
    const { calls } = yield* AppConfig
    const stun = calls.iceUrls.filter((u) => !isTurn(u))
    const turn = calls.iceUrls.filter(isTurn)

    /** The list for `userId`, TURN credentials (if any) valid for the configured TTL from now. */
    const forUser = (userId: UserId) =>
      Effect.gen(function*() {
        const servers: Array<IceServer> = []
        if (stun.length > 0) servers.push(IceServer.make({ urls: stun }))
        if (turn.length > 0) {
          const now = yield* Clock.currentTimeMillis
          const expires = Math.floor((now + Duration.toMillis(calls.turnTtl)) / 1000)
          servers.push(Option.match(calls.turnSecret, {
            // Without a secret the TURN server must take its own (static) credentials; we hand out none.
            onNone: () => IceServer.make({ urls: turn }),
            onSome: (secret) => IceServer.make({ urls: turn, ...turnCredentials(Redacted.value(secret), userId, expires) })
          }))
        }
        return servers
      })

    return { forUser } as const
  })
}) {}
