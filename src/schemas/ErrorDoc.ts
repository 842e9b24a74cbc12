/** Renders the error-code table as the Markdown of `docs/api/errors.md`. */
import { ErrorCodes, errorCodeList } from "./ErrorCode.ts"

/** The document's full text. */
export const renderErrorsDoc = (): string =>
  [
    "# Error codes",
    "",
    "Every failure answers with one body, over HTTP:",
    "",
    "```json",
    "{\"error\":{\"code\":\"LESSON_NOT_FOUND\",\"detail\":\"No lesson with this id is visible to you\",\"fields\":{}}}",
    "```",
    "",
    "and over WebSocket as an error frame carrying the same `code`, `detail` and `fields`.",
    "`code` is stable and machine-readable; `detail` is for humans and may change;",
    "`fields` maps each offending input field to what is wrong with it (empty when no field is at fault).",
    "Responses never contain stack traces, SQL or internal type tags; a 500 `INTERNAL` is logged with",
    "its cause under the response's `X-Request-ID`.",
    "",
    "This table is generated from `src/schemas/ErrorCode.ts` (`npx tsx scripts/errors-doc.ts`);",
    "a test fails when the two disagree.",
    "",
    "| code | HTTP status | meaning |",
    "| --- | --- | --- |",
    ...errorCodeList.map((code) => `| \`${code}\` | ${ErrorCodes[code].status} | ${ErrorCodes[code].description} |`),
    ""
  ].join("\n")
