package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// TouchSessions records that the sessions ids (IDs or [Session.Key]s)
// were used at now, in one unordered bulk write: one update per session,
// each filtered on _id alone, which every store looks up cheaply. Callers
// collect the sessions due a touch (at most one per [LastSeenGranularity])
// and write them together. Missing sessions (ended meanwhile) are skipped,
// never created. It fails with [ErrUnavailable] if the store cannot be
// reached; some of the sessions may have been touched then.
func (s *Store) TouchSessions(ctx context.Context, ids []string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: normTime(now)}}}}
	writes := make([]mongo.WriteModel, len(ids))
	for i, id := range ids {
		writes[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: SessionIDOf(id)}}).SetUpdate(set)
	}
	if _, err := s.sessions.BulkWrite(ctx, writes, options.BulkWrite().SetOrdered(false)); err != nil {
		return fmt.Errorf("touch %d sessions: %w", len(ids), storeError(err))
	}
	return nil
}
