import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { ErrorCodes, errorCodeList } from "../../src/schemas/ErrorCode.ts"

const doc = readFileSync(new URL("../../docs/api/errors.md", import.meta.url), "utf8")

const documented = new Map(
  [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [m[1], { status: Number(m[2]), text: m[3] }])
)

describe("error code table", () => {
  it("has at least 30 codes, all SCREAMING_SNAKE, with 4xx/5xx statuses", () => {
    expect(errorCodeList.length).toBeGreaterThanOrEqual(30)
    for (const code of errorCodeList) {
      expect(code).toMatch(/^[A-Z][A-Z_]+[A-Z]$/)
      expect(ErrorCodes[code].status).toBeGreaterThanOrEqual(400)
      expect(ErrorCodes[code].status).toBeLessThan(600)
    }
  })

  it("docs/api/errors.md lists exactly the codes of the table with the same status and meaning", () => {
    expect([...documented.keys()].sort()).toEqual([...errorCodeList].sort())
    for (const code of errorCodeList) {
      expect(documented.get(code)?.status, code).toBe(ErrorCodes[code].status)
      expect(documented.get(code)?.text, code).toBe(ErrorCodes[code].description)
    }
  })
})
