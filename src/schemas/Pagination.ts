/**
 * Cursor pagination shared by list routes: an opaque cursor and a bounded limit.
 * Cursors are base64url JSON of the sort key of the last row returned.
 */
import { Schema } from "effect"

/** Page size: 1–200, default 50. */
export const Limit = Schema.NumberFromString.pipe(
  Schema.int({ message: () => "expected a whole number from 1 to 200" }),
  Schema.between(1, 200, { message: () => "expected a whole number from 1 to 200" })
).annotations({
  description: "Page size, 1–200 (default 50)",
  // One message for every way to get it wrong, "ten" included.
  message: () => ({ message: "expected a whole number from 1 to 200", override: true })
})

/** An opaque cursor returned as `nextCursor` by the previous page. */
export const Cursor = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(512, { message: () => "cursor too long" })
).annotations({ description: "Opaque cursor from the previous page's nextCursor" })

/** A page of items with the cursor of the next page (null on the last page). */
export const Page = <A, I, R>(item: Schema.Schema<A, I, R>) =>
  Schema.Struct({ items: Schema.Array(item), nextCursor: Schema.NullOr(Schema.String) })
