-- The event log. position is the global order; tx_id is the appending
-- transaction's id, used by readers to read only a stable prefix of the log
-- (see append_events and the package documentation). A stream's current
-- version is the max(version) of its events, found in the unique index.
CREATE SEQUENCE events_position_seq AS bigint MINVALUE 1 NO CYCLE;

CREATE TABLE events (
    position       bigint PRIMARY KEY,
    tx_id          xid8 NOT NULL,
    id             uuid NOT NULL UNIQUE,
    stream_id      text NOT NULL,
    version        bigint NOT NULL CHECK (version > 0),
    type           text NOT NULL,
    schema_version integer NOT NULL CHECK (schema_version > 0),
    data           jsonb NOT NULL,
    metadata       jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version)
);

-- append_batch appends one or more requests, each atomically, in one
-- transaction (the store groups concurrent appends into one call, so they
-- share one commit). Request r is p_counts[r] events, taken in order from
-- the flattened event arrays. One row per request answers with
--   status 0: appended;   actual = new stream version, positions of the events
--   status 1: wrong expected version; actual = the stream's version
--   status 2: already appended (a retry); actual = stream version, original positions
--   status 3: event ids reused with other content (idempotency conflict)
-- p_expected[r]: -1 any, -2 stream exists, n >= 0 exact (0 = no stream).
-- A request that fails its check writes nothing and does not affect the
-- others.
--
-- Ordering. The transaction's first write is taking its id, under an
-- advisory lock held while every request of the call reads its stream and
-- takes and writes its positions; the lock is released before commit. So
-- among appending transactions, transaction id order is position order, and
-- a reader that only reads rows whose tx_id is below the oldest transaction
-- id still running in its snapshot never sees a position before an earlier
-- one that is still uncommitted: it cannot skip an event whose commit lands
-- late. Commits are not serialised, so concurrent calls share group commits.
--
-- Concurrency. A stream version written by another transaction that has not
-- committed yet is invisible here; inserting the same (stream_id, version)
-- then fails with a unique violation once that transaction commits, and the
-- caller runs the whole call again in a new transaction (never in this one:
-- a retry must take a new transaction id together with its new positions).
CREATE FUNCTION append_batch(
    p_streams         text[],
    p_expected        bigint[],
    p_counts          integer[],
    p_ids             uuid[],
    p_types           text[],
    p_schema_versions integer[],
    p_data            text[],
    p_metadata        text[]
) RETURNS TABLE (req integer, status integer, actual bigint, first_position bigint, last_position bigint)
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    v_tx      xid8;
    v_off     integer := 0;
    v_n       integer;
    v_ids     uuid[];
    v_first   bigint;
    v_current bigint;
    v_found   integer;
    v_match   boolean;
    v_pos_min bigint;
    v_pos_max bigint;
    v_delay   text;
BEGIN
    BEGIN
        PERFORM pg_advisory_lock(7346829, 1);
        v_tx := pg_current_xact_id();
        FOR r IN 1 .. cardinality(p_streams) LOOP
            v_n := p_counts[r];
            v_ids := p_ids[v_off + 1 : v_off + v_n];
            SELECT coalesce(max(e.version), 0) INTO v_current FROM events e WHERE e.stream_id = p_streams[r];

            -- A retried request: every id already recorded, in this stream,
            -- in this order, with the same type and data. Any other reuse of
            -- a recorded id is a conflict. The cheap probe keeps new appends fast.
            PERFORM 1 FROM events e WHERE e.id = ANY(v_ids);
            IF FOUND THEN
                SELECT count(e.id),
                       bool_and(e.stream_id = p_streams[r] AND e.type = i.type AND e.data = i.data::jsonb)
                         AND count(DISTINCT e.version - i.ord) = 1,
                       min(e.position), max(e.position)
                  INTO v_found, v_match, v_pos_min, v_pos_max
                  FROM unnest(v_ids, p_types[v_off + 1 : v_off + v_n], p_data[v_off + 1 : v_off + v_n])
                       WITH ORDINALITY AS i(id, type, data, ord)
                  JOIN events e ON e.id = i.id;
                IF v_found = v_n AND v_match THEN
                    RETURN QUERY SELECT r, 2, v_current, v_pos_min, v_pos_max;
                ELSE
                    RETURN QUERY SELECT r, 3, v_current, 0::bigint, 0::bigint;
                END IF;
            ELSIF NOT (p_expected[r] = -1
                       OR (p_expected[r] = -2 AND v_current > 0)
                       OR p_expected[r] = v_current) THEN
                RETURN QUERY SELECT r, 1, v_current, 0::bigint, 0::bigint;
            ELSE
                v_first := nextval('events_position_seq');
                IF v_n > 1 THEN
                    PERFORM setval('events_position_seq', v_first + v_n - 1);
                END IF;
                INSERT INTO events (position, tx_id, id, stream_id, version, type, schema_version, data, metadata)
                SELECT v_first + i.ord - 1, v_tx, i.id, p_streams[r], v_current + i.ord, i.type, i.sv,
                       i.data::jsonb, coalesce(nullif(i.meta, ''), '{}')::jsonb
                  FROM unnest(v_ids, p_types[v_off + 1 : v_off + v_n], p_schema_versions[v_off + 1 : v_off + v_n],
                              p_data[v_off + 1 : v_off + v_n], p_metadata[v_off + 1 : v_off + v_n])
                       WITH ORDINALITY AS i(id, type, sv, data, meta, ord);
                RETURN QUERY SELECT r, 0, v_current + v_n, v_first, v_first + v_n - 1;
            END IF;
            v_off := v_off + v_n;
        END LOOP;
        PERFORM pg_advisory_unlock(7346829, 1);
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        PERFORM pg_advisory_unlock(7346829, 1);
        RAISE;
    END;

    -- Test knob: delay the commit so that commits land out of position order.
    v_delay := current_setting('commerce.test_commit_delay_ms', true);
    IF v_delay IS NOT NULL AND v_delay <> '' THEN
        PERFORM pg_sleep(random() * v_delay::double precision / 1000.0);
    END IF;
END;
$$;
