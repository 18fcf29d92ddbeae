"""PostgreSQL: a report is stored by one function call, in one round trip, committed by the server.

``usage_submit_report`` takes the steps of a submission in order, each statement with a fresh
snapshot (a VOLATILE function under READ COMMITTED), and undoes its own writes when it refuses:

1. store the report unless its ``submission_id`` is known (``duplicate``);
2. take the installation's rate row (insert it, or lock it): a tombstone, or a report accepted
   within the hour, refuses the report (``refused``, with the row's ``last_accepted`` and
   ``deleted_at``);
3. an earlier report of the installation in the same week: undo, and let the caller store it in a
   transaction of its own, which counts the installation once per key (``earlier``);
4. with a limit of new installations, count a new one, or refuse (``too_many_new``);
5. claim the hour and add the contributions (``accepted``).

Called outside a transaction, the call is its own transaction: the server commits it before it
answers, so no row lock waits for a round trip to the collector. SQLite has no functions; its
writer thread takes the same steps (``submission.py``).

The aggregates table leaves half of each page free (``fillfactor``), so that most updates of a
counter are HOT updates, on the same page and without a new index entry.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SUBMIT_FUNCTION = """
CREATE OR REPLACE FUNCTION usage_submit_report(
    p_submission_id text,
    p_installation_id text,
    p_week text,
    p_period_start date,
    p_now double precision,
    p_payload text,
    p_cutoff double precision,
    p_shard smallint,
    p_cap integer,
    p_receive_week text,
    p_metrics text[],
    p_keys text[],
    p_totals bigint[]
) RETURNS TABLE (o_outcome text, o_last_accepted double precision, o_deleted_at double precision)
LANGUAGE plpgsql VOLATILE AS $function$
DECLARE
    v_id bigint;
    v_last double precision;
    v_deleted double precision;
    v_new_row boolean := false;
    v_refusal text;
BEGIN
    INSERT INTO usage_reports AS r (submission_id, installation_id, week, period_start, received_at, payload)
    VALUES (p_submission_id, p_installation_id, p_week, p_period_start, p_now, p_payload)
    ON CONFLICT (submission_id) DO NOTHING
    RETURNING r.id INTO v_id;
    IF v_id IS NULL THEN
        RETURN QUERY SELECT 'duplicate'::text, NULL::double precision, NULL::double precision;
        RETURN;
    END IF;

    INSERT INTO usage_installation_rate AS t (installation_id, last_accepted)
    VALUES (p_installation_id, p_now)
    ON CONFLICT (installation_id) DO NOTHING;
    IF FOUND THEN
        v_new_row := true;
    ELSE
        SELECT t.last_accepted, t.deleted_at INTO v_last, v_deleted
        FROM usage_installation_rate AS t
        WHERE t.installation_id = p_installation_id
        FOR UPDATE;
        IF NOT FOUND THEN
            -- The row went (a purge) between the two statements: the caller's transaction decides.
            v_refusal := 'earlier';
        ELSIF v_deleted IS NOT NULL OR v_last > p_cutoff THEN
            v_refusal := 'refused';
        END IF;
    END IF;

    IF v_refusal IS NULL THEN
        IF EXISTS (
            SELECT 1 FROM usage_reports AS e
            WHERE e.installation_id = p_installation_id AND e.week = p_week AND e.id <> v_id
        ) THEN
            v_refusal := 'earlier';
        ELSIF p_cap > 0 AND NOT EXISTS (
            SELECT 1 FROM usage_reports AS k WHERE k.installation_id = p_installation_id AND k.id <> v_id
        ) THEN
            INSERT INTO usage_new_installations AS n (week, shard, installations)
            VALUES (p_receive_week, p_shard, 1)
            ON CONFLICT (week, shard) DO UPDATE SET installations = n.installations + 1
            WHERE n.installations < p_cap;
            IF NOT FOUND THEN
                v_refusal := 'too_many_new';
            END IF;
        END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
        -- Undo: the report, and the rate row if this call inserted it (a locked row is unchanged).
        DELETE FROM usage_reports AS r WHERE r.id = v_id;
        IF v_new_row THEN
            DELETE FROM usage_installation_rate AS t WHERE t.installation_id = p_installation_id;
        END IF;
        RETURN QUERY SELECT v_refusal, v_last, v_deleted;
        RETURN;
    END IF;

    IF NOT v_new_row THEN
        UPDATE usage_installation_rate AS t
        SET previous_accepted = t.last_accepted, last_accepted = p_now
        WHERE t.installation_id = p_installation_id;
    END IF;
    -- In the order given (sorted by the caller): a stable lock order.
    INSERT INTO usage_aggregates AS a (week, metric, key, shard, total, installations)
    SELECT p_week, u.metric, u.key, p_shard, u.total, 1
    FROM unnest(p_metrics, p_keys, p_totals) WITH ORDINALITY AS u (metric, key, total, position)
    ORDER BY u.position
    ON CONFLICT (week, metric, key, shard) DO UPDATE
    SET total = a.total + excluded.total, installations = a.installations + excluded.installations;
    RETURN QUERY SELECT 'accepted'::text, NULL::double precision, NULL::double precision;
END
$function$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SUBMIT_FUNCTION)
        # Room on every page, so that adding to a counter can stay on its page without a new index
        # entry (a HOT update): every report updates some 40 aggregate rows.
        op.execute("ALTER TABLE usage_aggregates SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE usage_aggregates RESET (fillfactor)")
        op.execute(
            "DROP FUNCTION IF EXISTS usage_submit_report("
            "text, text, text, date, double precision, text, double precision, smallint, integer, text, "
            "text[], text[], bigint[])"
        )
