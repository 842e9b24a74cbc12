/**
 * The contract of a sync mutation handler: decode the mutation's `args`, apply it
 * on the caller's connection (inside the push's per-mutation transaction) and say
 * what happened, with the side effects that must wait for the commit (publishing
 * room events, announcing unread counts). Handlers live beside their entity.
 */
import { Effect, ParseResult, Schema } from "effect"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { ValidationError } from "../schemas/Errors.ts"

/** Who pushed the mutation. */
export type SyncActor = Pick<CurrentUserInfo, "id" | "role">

/** What a handler did. `afterCommit` runs once the mutation's transaction has committed. */
export type MutationOutcome =
  | {
    readonly status: "applied"
    /** The room sequence number of the event it produced, if any. */
    readonly version?: number | undefined
    readonly result?: unknown
    /** Best effort (live delivery): a failure is logged, the mutation stays applied. */
    readonly afterCommit: Effect.Effect<void, unknown>
  }
  /** Already true (e.g. a chat message with this client message id exists): nothing was written. */
  | { readonly status: "duplicate" }
  /** Not applied: the server's state moved on; `server` is its current value. */
  | { readonly status: "conflict"; readonly version: number; readonly server: unknown }

/** A handler for one `entity/op`. Failures with an error code reject the mutation (its writes roll back). */
export interface MutationHandler {
  readonly entity: string
  readonly op: string
  readonly apply: (actor: SyncActor, args: unknown) => Effect.Effect<MutationOutcome, CodedError>
}

/** The applied outcome with nothing to do after commit. */
export const applied = (fields: { readonly version?: number | undefined; readonly result?: unknown } = {}, afterCommit: Effect.Effect<void, unknown> = Effect.void): MutationOutcome => ({
  status: "applied",
  ...fields,
  afterCommit
})

/** Decode failures of `args` as a `ValidationError` naming each field (`args.body`, …). */
const invalidArgs = (error: ParseResult.ParseError) => {
  const fields: Record<string, string> = {}
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const key = ["args", ...issue.path.map(String)].join(".")
    fields[key] = fields[key] === undefined ? issue.message : `${fields[key]}; ${issue.message}`
  }
  return new ValidationError({ fields })
}

/** Builds a handler whose `args` are decoded with `schema` (every bad field reported). */
export const mutationHandler = <A, I>(
  entity: string,
  op: string,
  schema: Schema.Schema<A, I>,
  apply: (actor: SyncActor, args: A) => Effect.Effect<MutationOutcome, CodedError>
): MutationHandler => {
  const decode = Schema.decodeUnknown(schema, { errors: "all", onExcessProperty: "ignore" })
  return {
    entity,
    op,
    apply: (actor, args) => Effect.flatMap(Effect.mapError(decode(args), invalidArgs), (decoded) => apply(actor, decoded))
  }
}
