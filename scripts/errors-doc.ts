/**
 * Prints docs/api/errors.md from the ErrorCode table (`npx tsx scripts/errors-doc.ts > docs/api/errors.md`).
 * test/schemas/ErrorCode.test.ts fails when the committed document and the table disagree.
 */
import { renderErrorsDoc } from "../src/schemas/ErrorDoc.ts"

process.stdout.write(renderErrorsDoc())
