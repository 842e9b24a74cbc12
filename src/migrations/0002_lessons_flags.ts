/**
 * Tutor–student relations, lessons (1:1 or small group through lesson_students)
 * and feature flags. lesson_students repeats starts_at so "my lessons as a
 * student" is an index range scan; a composite foreign key with ON UPDATE CASCADE
 * keeps that copy equal to the lesson's, so a reschedule cannot leave it stale.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE tutor_students (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tutor_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      student_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
      created_at timestamptz NOT NULL DEFAULT now(),
      ended_at timestamptz,
      CHECK (tutor_id <> student_id),
      CHECK ((status = 'ended') = (ended_at IS NOT NULL))
    )`
  yield* sql`CREATE UNIQUE INDEX tutor_students_active_pair ON tutor_students (tutor_id, student_id) WHERE status = 'active'`
  yield* sql`CREATE INDEX tutor_students_tutor_idx ON tutor_students (tutor_id, created_at, id)`
  yield* sql`CREATE INDEX tutor_students_student_idx ON tutor_students (student_id, created_at, id)`
  yield* sql`CREATE INDEX tutor_students_created_idx ON tutor_students (created_at, id)`
  // The 8-hour bound is relied on by the lesson list: "lessons overlapping [from, to)"
  // becomes an index range on starts_at (from - 8 h … to).
  yield* sql`
    CREATE TABLE lessons (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tutor_id uuid NOT NULL REFERENCES users (id),
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      starts_at timestamptz NOT NULL,
      ends_at timestamptz NOT NULL,
      status text NOT NULL DEFAULT 'scheduled'
        CHECK (status IN ('scheduled', 'live', 'completed', 'cancelled', 'no_show')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (ends_at > starts_at),
      CHECK (ends_at - starts_at <= interval '8 hours'),
      UNIQUE (id, starts_at)
    )`
  yield* sql`CREATE INDEX lessons_tutor_start_idx ON lessons (tutor_id, starts_at, id)`
  yield* sql`CREATE INDEX lessons_start_idx ON lessons (starts_at, id)`
  yield* sql`
    CREATE TABLE lesson_students (
      lesson_id uuid NOT NULL,
      student_id uuid NOT NULL REFERENCES users (id),
      starts_at timestamptz NOT NULL,
      PRIMARY KEY (lesson_id, student_id),
      FOREIGN KEY (lesson_id, starts_at) REFERENCES lessons (id, starts_at) ON UPDATE CASCADE ON DELETE CASCADE
    )`
  yield* sql`CREATE INDEX lesson_students_student_start_idx ON lesson_students (student_id, starts_at, lesson_id)`
  yield* sql`
    CREATE TABLE feature_flags (
      name text PRIMARY KEY,
      description text NOT NULL DEFAULT '',
      enabled boolean NOT NULL DEFAULT false,
      rollout_percent integer NOT NULL DEFAULT 0 CHECK (rollout_percent BETWEEN 0 AND 100),
      rules jsonb NOT NULL DEFAULT '{}'::jsonb,
      owner text NOT NULL DEFAULT '',
      expires_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
})
