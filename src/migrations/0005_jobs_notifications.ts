/**
 * The job queue (jobs, their run log, cron schedule ticks) and notifications
 * (in-app records, per-user preferences, web push subscriptions). A statement
 * trigger NOTIFYs `lectern_jobs` with the queue name when pending jobs are
 * inserted (workers then sleep until the earliest is due), and NOTIFY is
 * transactional: an enqueue inside a transaction wakes workers only on commit.
 */
import { SqlClient } from "@effect/sql"
import { Effect } from "effect"

export default Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE jobs (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      queue text NOT NULL,
      name text NOT NULL,
      payload jsonb NOT NULL,
      state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'running', 'completed', 'dead', 'cancelled')),
      priority integer NOT NULL DEFAULT 0,
      run_at timestamptz NOT NULL DEFAULT now(),
      attempts integer NOT NULL DEFAULT 0,
      max_attempts integer NOT NULL CHECK (max_attempts >= 1),
      timeout_ms integer NOT NULL CHECK (timeout_ms > 0),
      unique_key text,
      locked_by text,
      locked_until timestamptz,
      -- when the current (or last) attempt was claimed
      started_at timestamptz,
      last_error text,
      trace_parent text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz
    )`
  // Claim order within a queue: highest priority, then earliest due, then FIFO.
  yield* sql`CREATE INDEX jobs_ready_idx ON jobs (queue, priority DESC, run_at, id) WHERE state = 'pending'`
  yield* sql`CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE state = 'pending'`
  yield* sql`CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running'`
  yield* sql`CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL`
  // At most one active (pending or running) job per unique key.
  yield* sql`
    CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state IN ('pending', 'running')`
  // One row per finished attempt (a running attempt is the job row itself: state, locked_by, started_at).
  yield* sql`
    CREATE TABLE job_runs (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- no foreign key: a check per inserted run costs throughput; retention deletes runs with their job
      job_id bigint NOT NULL,
      attempt integer NOT NULL,
      worker_id text NOT NULL,
      started_at timestamptz NOT NULL,
      finished_at timestamptz NOT NULL,
      outcome text NOT NULL
        CHECK (outcome IN ('completed', 'failed', 'timed_out', 'rejected', 'lease_expired', 'released')),
      error text
    )`
  yield* sql`CREATE INDEX job_runs_job_idx ON job_runs (job_id, id)`
  yield* sql`
    CREATE TABLE job_schedules (
      name text PRIMARY KEY,
      last_tick timestamptz NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`
  yield* sql`
    CREATE FUNCTION lectern_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('lectern_jobs', q.queue)
      FROM (SELECT DISTINCT queue FROM inserted WHERE state = 'pending') AS q;
      RETURN NULL;
    END
    $$`
  yield* sql`
    CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION lectern_jobs_notify()`

  yield* sql`
    CREATE TABLE notifications (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      type text NOT NULL,
      title text NOT NULL,
      body text NOT NULL DEFAULT '',
      data jsonb NOT NULL DEFAULT '{}'::jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      read_at timestamptz
    )`
  yield* sql`CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC)`
  yield* sql`CREATE INDEX notifications_unread_idx ON notifications (user_id) WHERE read_at IS NULL`
  yield* sql`
    CREATE TABLE notification_preferences (
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      type text NOT NULL,
      channel text NOT NULL CHECK (channel IN ('in_app', 'push')),
      enabled boolean NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (user_id, type, channel)
    )`
  yield* sql`
    CREATE TABLE push_subscriptions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      endpoint text NOT NULL UNIQUE,
      p256dh text NOT NULL,
      auth text NOT NULL,
      device text NOT NULL DEFAULT '',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      last_success_at timestamptz,
      last_failure_at timestamptz,
      failure_count integer NOT NULL DEFAULT 0,
      last_error text,
      disabled_at timestamptz
    )`
  yield* sql`CREATE INDEX push_subscriptions_user_idx ON push_subscriptions (user_id, created_at)`
})
