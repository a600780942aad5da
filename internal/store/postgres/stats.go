package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/record"
)

// maxChannelKey bounds a channel id of a subscriber part, as bolt's key
// limit does there.
const maxChannelKey = 32 << 10

// SaveSubscriberParts is store.SubscriberStats.SaveSubscriberParts: one
// statement, the last of two parts with one key standing, as in bolt.
func (db *DB) SaveSubscriberParts(ctx context.Context, parts []store.SubscriberPart) error {
	var hs, chans, ds, ins, bodies [][]byte
	for _, p := range parts {
		if err := store.CheckSubscriberPart(p, maxChannelKey); err != nil {
			return fmt.Errorf("save subscriber parts: %w", err)
		}
		v, err := record.EncodeSubscriberPart(p)
		if err != nil {
			return fmt.Errorf("save subscriber parts: %w", err)
		}
		hs, chans, ds = append(hs, hashOf(p.Channel)), append(chans, []byte(p.Channel)), append(ds, []byte(p.Day))
		ins, bodies = append(ins, []byte(p.Instance)), append(bodies, v)
	}
	if len(parts) == 0 {
		return nil
	}
	err := db.exec(ctx, `INSERT INTO subscriber_days (h, channel, day, instance, body)
		SELECT DISTINCT ON (h, day, instance) h, channel, day, instance, body
		FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[]) WITH ORDINALITY AS u(h, channel, day, instance, body, i)
		ORDER BY h, day, instance, i DESC
		ON CONFLICT (h, day, instance) DO UPDATE SET body = excluded.body`, hs, chans, ds, ins, bodies)
	if err != nil {
		return fmt.Errorf("save subscriber parts: %w", err)
	}
	return nil
}

// SubscriberParts is store.SubscriberStats.SubscriberParts.
func (db *DB) SubscriberParts(ctx context.Context, from, to string) ([]store.SubscriberPart, error) {
	if err := read(ctx); err != nil {
		return nil, fmt.Errorf("subscriber parts: %w", err)
	}
	rows, err := db.pool.Query(ctx, `SELECT channel, day, instance, body FROM subscriber_days
		WHERE ($1 = '' OR day >= $2) AND ($3 = '' OR day <= $4) ORDER BY channel, day, instance`, from, []byte(from), to, []byte(to))
	if err != nil {
		return nil, fmt.Errorf("subscriber parts: %w", err)
	}
	defer rows.Close()
	var out []store.SubscriberPart
	for rows.Next() {
		var ch, day, in, v []byte
		if err := rows.Scan(&ch, &day, &in, &v); err != nil {
			return nil, fmt.Errorf("subscriber parts: %w", err)
		}
		p, err := record.DecodeSubscriberPart(string(ch), string(day), string(in), v)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subscriber parts: %w", err)
	}
	return out, nil
}

// SettleSubscriberDays is store.SubscriberStats.SettleSubscriberDays: in
// one transaction (not the writer's lock: the parts are no story's), each
// day's parts deleted and its settled part stored.
func (db *DB) SettleSubscriberDays(ctx context.Context, settled []store.SubscriberPart) error {
	bodies := make([][]byte, len(settled))
	for i, p := range settled {
		err := store.CheckSettledPart(p, maxChannelKey)
		if err == nil {
			bodies[i], err = record.EncodeSubscriberPart(p)
		}
		if err != nil {
			return fmt.Errorf("settle subscriber days: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("settle subscriber days: %w", err)
	}
	if db.readOnly {
		return fmt.Errorf("settle subscriber days: %w", store.ErrReadOnly)
	}
	if len(settled) == 0 {
		return nil
	}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for i, p := range settled {
			h := hashOf(p.Channel)
			if _, err := tx.Exec(ctx, `DELETE FROM subscriber_days WHERE h = $1 AND day = $2`, h, []byte(p.Day)); err != nil {
				return err
			}
			// Another instance settling the day at once inserts the same
			// row: the conflict is no error.
			if _, err := tx.Exec(ctx, `INSERT INTO subscriber_days (h, channel, day, instance, body) VALUES ($1, $2, $3, '', $4)
				ON CONFLICT (h, day, instance) DO UPDATE SET body = excluded.body`,
				h, []byte(p.Channel), []byte(p.Day), bodies[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("settle subscriber days: %w", classify(err))
	}
	return nil
}
