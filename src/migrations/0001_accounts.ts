/** Accounts: users (email unique case-insensitively) and hashed, rotating refresh tokens. */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL,
      display_name text NOT NULL,
      role text NOT NULL CHECK (role IN ('admin', 'tutor', 'student')),
      password_hash text NOT NULL,
      disabled boolean NOT NULL DEFAULT false,
      attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email))`
  yield* sql`CREATE INDEX users_created_idx ON users (created_at, id)`
  yield* sql`
    CREATE TABLE refresh_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      family_id uuid NOT NULL,
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      expires_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      used_at timestamptz,
      revoked_at timestamptz
    )`
  yield* sql`CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id)`
  yield* sql`CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id)`
})
