package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"lift"
)

// ClipFeatures returns a clip's model inputs (NotFound if absent): the
// prediction hot path. They come from a cache in memory, which is on only
// while this store LISTENs for the clip changes that every replica's
// writes notify (migration 0005); this store's own writes also drop their
// clips from it at once.
func (db *DB) ClipFeatures(ctx context.Context, id string) (lift.Features, error) {
	if f, ok := db.features.Get(id); ok {
		return f, nil
	}
	token := db.features.Begin()
	c, err := db.GetClip(ctx, id)
	if err != nil {
		return lift.Features{}, err
	}
	f := c.Features()
	db.features.Fill(id, f, token)
	return f, nil
}

// featureCacheSize bounds the clips whose features a replica keeps
// (about 30 MB when full).
const featureCacheSize = 1 << 18

// listenClips keeps the feature cache in step with clip changes from
// every replica until ctx ends. The cache is switched on only once LISTEN
// is in place, and off (and emptied) whenever the session is lost, since
// notifications sent meanwhile are gone; it reconnects with backoff.
func (db *DB) listenClips(ctx context.Context, ready chan<- struct{}) {
	const firstBackoff = 100 * time.Millisecond
	backoff := firstBackoff
	for ctx.Err() == nil {
		listened, err := db.listenOnce(ctx, ready)
		db.features.SetEnabled(false)
		if listened {
			backoff = firstBackoff // a session that came up ends the run of failures
		}
		if ctx.Err() != nil {
			return
		}
		if l := db.logger.Load(); l != nil {
			l.Warn("clip change notifications lost; the feature cache is off until they resume", "err", err)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listenOnce runs one LISTEN session and says whether it got as far as
// listening; ready is closed (once) when the cache is first switched on.
func (db *DB) listenOnce(ctx context.Context, ready chan<- struct{}) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{"lift_clips:" + schema}.Sanitize()); err != nil {
		return false, err
	}
	db.features.SetEnabled(true)
	db.readyOnce.Do(func() { close(ready) })
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		db.features.Invalidate(n.Payload)
	}
}
