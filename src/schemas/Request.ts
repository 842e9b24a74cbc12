/**
 * Helpers for request schemas. Every request is decoded reporting *all* bad
 * fields, not just the first; on a `Schema.Class` that option only takes effect
 * when it sits on the struct the class is built from, so build classes from these.
 */
import { Schema } from "effect"

const allErrors = { parseOptions: { errors: "all" } } as const

/** A struct of request fields that reports every invalid field at once. */
export const RequestFields = <Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.Struct(fields).annotations(allErrors)
