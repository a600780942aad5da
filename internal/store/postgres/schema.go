package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/store"
)

// schemaVersion is the version of the tables below. Raise it when they
// change, and add the step from the previous version to migrations.
const schemaVersion = 5

// The tables. h columns are hashes (see hashOf); ns columns sort times as
// nanoseconds since 1970, clamped to an int64 (bolt's sort stamp).
//
//	sources     a source: its saved state (NULL until one is saved) and its counts
//	items       the stories, by ref hash; seq (first stored) and rev (write order)
//	positions   each source's newest-first order: its own items and its merged copies
//	aliases     a source's keys that name another stored story
//	links       canonical link key → the first story seen with it
//	titles      folded title, sort time → story (the title rule's index)
//	ids         upstream id → the item that carried it first
//	tombstones  keys a prune deleted
//	gone        deleted items in the write order, until TrimGone
//	counters    rev (the last Rev given), indexed_rev
//	mindexes, members, mpages, mwindows: the membership indexes
//	subscriptions, subscriber_days (a part per channel, day and instance: version 4)
//	poll_leases, host_leases, role_leases: leases (version 3, lease.go)
//	list_subscribers, mail_meta: the mailing lists (schemaLists)
var schemaV1 = []string{
	`CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL)`,
	`INSERT INTO counters VALUES ('rev', 0), ('indexed_rev', 0)`,
	`CREATE SEQUENCE item_seq`,
	`CREATE TABLE sources (
		h bytea PRIMARY KEY, id bytea NOT NULL, state bytea,
		own bigint NOT NULL DEFAULT 0, merged bigint NOT NULL DEFAULT 0, tombs bigint NOT NULL DEFAULT 0)`,
	`CREATE TABLE items (
		h bytea PRIMARY KEY, src bytea NOT NULL, key bytea NOT NULL, kh bytea NOT NULL,
		seq bigint NOT NULL UNIQUE, rev bigint NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX items_rev ON items (rev)`,
	`CREATE INDEX items_kh ON items (kh)`,
	`CREATE TABLE positions (
		sh bytea NOT NULL, ns bigint NOT NULL, key bytea NOT NULL, kh bytea NOT NULL, story bytea NOT NULL,
		CONSTRAINT positions_order UNIQUE (sh, ns, kh))`,
	`CREATE TABLE aliases (h bytea PRIMARY KEY, src bytea NOT NULL, key bytea NOT NULL, kh bytea NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX aliases_kh ON aliases (kh)`,
	`CREATE TABLE links (h bytea PRIMARY KEY, story bytea NOT NULL, ref bytea NOT NULL)`,
	`CREATE TABLE titles (th bytea NOT NULL, ns bigint NOT NULL, story bytea NOT NULL, ref bytea NOT NULL,
		UNIQUE (th, ns, story))`,
	`CREATE TABLE ids (h bytea PRIMARY KEY, story bytea NOT NULL, ref bytea NOT NULL)`,
	`CREATE TABLE tombstones (h bytea PRIMARY KEY, sh bytea NOT NULL, key bytea NOT NULL, at bigint NOT NULL)`,
	`CREATE INDEX tombstones_sh ON tombstones (sh, at)`,
	`CREATE TABLE gone (rev bigint PRIMARY KEY, src bytea NOT NULL, key bytea NOT NULL)`,
	`CREATE TABLE mindexes (name bytea PRIMARY KEY, state bytea NOT NULL)`,
	`CREATE TABLE members (
		ix bytea NOT NULL, seq bigint NOT NULL, tk bytea NOT NULL, until bigint NOT NULL,
		src bytea NOT NULL, key bytea NOT NULL, story bytea NOT NULL,
		PRIMARY KEY (ix, seq))`,
	`CREATE UNIQUE INDEX members_order ON members (ix, tk)`,
	`CREATE INDEX members_story ON members (story)`,
	`CREATE TABLE mpages (ix bytea NOT NULL, n int NOT NULL, first bigint NOT NULL, count int NOT NULL, changed bigint NOT NULL,
		PRIMARY KEY (ix, n))`,
	`CREATE INDEX mpages_first ON mpages (ix, first)`,
	`CREATE TABLE mwindows (ix bytea NOT NULL, sh bytea NOT NULL, seqs bytea NOT NULL, PRIMARY KEY (ix, sh))`,
	`CREATE TABLE subscriptions (h bytea PRIMARY KEY, th bytea NOT NULL, topic bytea NOT NULL, callback bytea NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX subscriptions_th ON subscriptions (th)`,
	`CREATE TABLE subscriber_days (h bytea NOT NULL, channel bytea NOT NULL, day bytea NOT NULL, body bytea NOT NULL,
		PRIMARY KEY (h, day))`,
}

// schemaLeases (version 3) adds the leases (lease.go): a source's poll lease and the
// NextPoll released last (seconds and nanoseconds since 1970, exact), a
// host's lease, its gap and when it is free, and the roles.
var schemaLeases = []string{
	`CREATE TABLE poll_leases (h bytea PRIMARY KEY, owner bytea, until timestamptz,
		released boolean NOT NULL DEFAULT false, next_s bigint NOT NULL DEFAULT 0, next_ns int NOT NULL DEFAULT 0)`,
	`CREATE INDEX poll_leases_owner ON poll_leases (owner) WHERE owner IS NOT NULL`,
	`CREATE TABLE host_leases (h bytea PRIMARY KEY, owner bytea, source bytea, until timestamptz,
		gap_us bigint NOT NULL DEFAULT 0, free timestamptz)`,
	`CREATE TABLE role_leases (role bytea PRIMARY KEY, owner bytea NOT NULL, until timestamptz NOT NULL)`,
	claimPollFunction,
	releasePollFunction,
}

// releasePollFunction is ReleasePoll (lease.go): the poll's lease ended
// with its NextPoll, the host's with its gap begun, when p_owner holds
// them; its commit does not wait for the disk (see claimPollFunction).
const releasePollFunction = `CREATE FUNCTION release_poll(p_h bytea, p_hh bytea, p_owner bytea, p_next_s bigint, p_next_ns int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	UPDATE poll_leases SET owner = NULL, until = NULL, released = true, next_s = p_next_s, next_ns = p_next_ns
		WHERE h = p_h AND owner = p_owner;
	IF FOUND THEN
		UPDATE host_leases SET owner = NULL, source = NULL, until = NULL, free = now() + gap_us * interval '1 microsecond'
			WHERE h = p_hh AND owner = p_owner AND source = p_h;
	END IF;
END
$$`

// claimPollFunction is ClaimPoll (lease.go) in one round trip: the rows
// made, locked (SKIP LOCKED), judged and granted on the database's clock.
// Waits are in microseconds; o_host says the host was the reason. Its
// commit does not wait for the disk (synchronous_commit off for the
// transaction, as release_poll's): a lease is worth a few seconds, and
// one that a crash of the database forgets costs at most one request
// more. A row another claim has locked (SKIP LOCKED found none) is a claim
// under way, a fraction of a millisecond: come back in 20 ms. A host
// another instance is polling: when its lease says, at most 250 ms.
// CREATE OR REPLACE: version 5 replaces version 3's function (whose
// SKIP LOCKED waits were 250 ms) with this one.
const claimPollFunction = `CREATE OR REPLACE FUNCTION claim_poll(p_h bytea, p_hh bytea, p_owner bytea, p_src bytea,
	p_seen_s bigint, p_seen_ns int, p_lease_us bigint, p_gap_us bigint,
	OUT o_held boolean, OUT o_wait_us bigint, OUT o_released boolean, OUT o_next_s bigint, OUT o_next_ns int,
	OUT o_holder bytea, OUT o_host boolean)
LANGUAGE plpgsql AS $$
DECLARE
	pr poll_leases%ROWTYPE;
	hr host_leases%ROWTYPE;
	t timestamptz := now();
BEGIN
	PERFORM set_config('synchronous_commit', 'off', true);
	o_held := false; o_wait_us := 0; o_released := false; o_next_s := 0; o_next_ns := 0; o_host := false;
	INSERT INTO poll_leases (h) VALUES (p_h) ON CONFLICT DO NOTHING;
	INSERT INTO host_leases (h) VALUES (p_hh) ON CONFLICT DO NOTHING;
	SELECT * INTO pr FROM poll_leases WHERE poll_leases.h = p_h FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		o_wait_us := 20000; -- another claim of the source is under way
		RETURN;
	END IF;
	SELECT * INTO hr FROM host_leases WHERE host_leases.h = p_hh FOR UPDATE SKIP LOCKED;
	IF NOT FOUND THEN
		o_wait_us := 20000; o_host := true; -- another claim on the host is under way
		RETURN;
	END IF;
	o_released := pr.released; o_next_s := pr.next_s; o_next_ns := pr.next_ns;
	IF pr.until > t AND pr.owner <> p_owner THEN
		o_wait_us := ceil(extract(epoch FROM pr.until - t) * 1e6)::bigint; o_holder := pr.owner;
		RETURN;
	END IF;
	IF pr.released AND (pr.next_s <> p_seen_s OR pr.next_ns <> p_seen_ns) THEN
		RETURN;
	END IF;
	IF hr.until > t AND NOT (hr.owner = p_owner AND hr.source = p_src) THEN
		o_wait_us := least(250000, ceil(extract(epoch FROM hr.until - t) * 1e6)::bigint); o_host := true;
		RETURN;
	END IF;
	IF hr.free > t THEN
		o_wait_us := ceil(extract(epoch FROM hr.free - t) * 1e6)::bigint; o_host := true;
		RETURN;
	END IF;
	UPDATE poll_leases SET owner = p_owner, until = t + p_lease_us * interval '1 microsecond' WHERE poll_leases.h = p_h;
	UPDATE host_leases SET owner = p_owner, source = p_src, until = t + p_lease_us * interval '1 microsecond', gap_us = p_gap_us
		WHERE host_leases.h = p_hh;
	o_held := true; o_wait_us := p_lease_us;
END
$$`

// schemaLists adds the mailing lists: a subscriber per (channel, address)
// hash, its record (record.EncodeSubscriber) in body, and as columns what
// is searched: the channel hash, the address hash, state and created.
// Claims are row locks (SELECT … FOR UPDATE) around the contract's rules.
var schemaLists = []string{
	`CREATE TABLE list_subscribers (h bytea PRIMARY KEY, ch bytea NOT NULL, ah bytea NOT NULL,
		channel bytea NOT NULL, address bytea NOT NULL, state text NOT NULL, created bigint NOT NULL, body bytea NOT NULL)`,
	`CREATE INDEX list_subscribers_channel ON list_subscribers (ch, address)`,
	`CREATE INDEX list_subscribers_address ON list_subscribers (ah)`,
	`CREATE INDEX list_subscribers_pending ON list_subscribers (created) WHERE state = 'pending'`,
	`CREATE TABLE mail_meta (name text PRIMARY KEY, value bytea NOT NULL)`,
}

// schemaParts (version 4) keeps subscriber statistics as parts, one per
// channel, day and counting instance (store.SubscriberPart): the rows
// stored before get the empty instance and read as settled parts, as their
// bodies (the four counts) are a part record's.
var schemaParts = []string{
	`ALTER TABLE subscriber_days ADD COLUMN instance bytea NOT NULL DEFAULT ''::bytea`,
	`ALTER TABLE subscriber_days DROP CONSTRAINT subscriber_days_pkey`,
	`ALTER TABLE subscriber_days ADD PRIMARY KEY (h, day, instance)`,
}

// schemaClaimWaits (version 5) shortens claim_poll's wait after a row
// another claim had locked from 250 to 20 ms: with every source always due
// (bench/leases, 10,000 sources, 1 s interval, quiet 2-core machine) 2
// instances polled 1,020 sources/s and 3 600/s with 250 ms, 1,147–1,190
// and 907–1,047 with 20 ms: their hosts were held back a quarter second
// for a lock held a millisecond.
var schemaClaimWaits = []string{claimPollFunction}

// migrations[v] takes the schema from version v to v+1; index 0 creates it.
var migrations = [][]string{schemaV1, schemaLists, schemaLeases, schemaParts, schemaClaimWaits}

// migrate creates or upgrades the schema, once, under the schema lock.
func (db *DB) migrate(ctx context.Context) error {
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockSchema); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
			return err
		}
		version := 0
		if exists {
			err := tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("%w: schema_version has no row (not an aggregator store?)", store.ErrSchema)
			case err != nil:
				return err
			}
		} else if !db.readOnly {
			var other bool
			if err := tx.QueryRow(ctx, `SELECT to_regclass('items') IS NOT NULL`).Scan(&other); err != nil {
				return err
			}
			if other {
				return fmt.Errorf("%w: the schema has an items table but no schema_version (another program's tables? give the aggregator its own database or schema)", store.ErrSchema)
			}
		}
		switch {
		case version > schemaVersion:
			return fmt.Errorf("%w: the database has schema version %d, newer than this program's %d (upgrade the aggregator)",
				store.ErrSchema, version, schemaVersion)
		case version == schemaVersion:
			return nil
		case db.readOnly:
			return fmt.Errorf("%w: schema version %d, this program needs %d: open it once read-write to migrate", store.ErrSchema, version, schemaVersion)
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_version (version int NOT NULL)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
				return err
			}
		}
		for v := version; v < schemaVersion; v++ {
			for _, stmt := range migrations[v] {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
				}
			}
		}
		_, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, schemaVersion)
		return err
	})
}
