/**
 * Password hashing with scrypt (memory-hard, built into node:crypto and Deno's
 * node compat). Hashes are self-describing (`scrypt$<log2N>$<r>$<p>$<salt>$<hash>`)
 * so the cost can be raised later without invalidating stored hashes.
 */
import { Effect } from "effect"
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto"
import { AppConfig } from "../layers/AppConfig.ts"

const keyLength = 32
const blockSize = 8
const parallelism = 1

const derive = (password: string, salt: Buffer, log2N: number, r: number, p: number) =>
  Effect.async<Buffer>((resume) => {
    const N = 2 ** log2N
    scrypt(password, salt, keyLength, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (error, key) => {
      // scrypt only fails on invalid parameters, which are ours: a defect, not a user error.
      resume(error === null ? Effect.succeed(key) : Effect.die(error))
    })
  })

/** Hashes and verifies passwords. */
export class Passwords extends Effect.Service<Passwords>()("lectern/Passwords", {
  effect: Effect.gen(function*() {
    const { passwordHashCost } = yield* AppConfig
    const hash = (password: string) =>
      Effect.gen(function*() {
        const salt = randomBytes(16)
        const key = yield* derive(password, salt, passwordHashCost, blockSize, parallelism)
        return `scrypt$${passwordHashCost}$${blockSize}$${parallelism}$${salt.toString("base64url")}$${
          key.toString("base64url")
        }`
      }).pipe(Effect.withSpan("Passwords.hash"))

    const verify = (password: string, stored: string) =>
      Effect.gen(function*() {
        const [scheme, log2N, r, p, salt, expected] = stored.split("$")
        if (scheme !== "scrypt" || salt === undefined || expected === undefined) return false
        const key = yield* derive(password, Buffer.from(salt, "base64url"), Number(log2N), Number(r), Number(p))
        const want = Buffer.from(expected, "base64url")
        return want.length === key.length && timingSafeEqual(want, key)
      }).pipe(Effect.withSpan("Passwords.verify"))

    // Verifying against this when the email is unknown keeps login timing uniform.
    const decoy = yield* hash(randomBytes(16).toString("hex"))

    return { hash, verify, decoy } as const
  })
}) {}
