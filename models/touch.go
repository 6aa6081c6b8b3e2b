package models

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// touchBatch bounds the updates in one command. FerretDB v1.24 keeps a
// SQLite connection for each update of a command until the whole command
// ends, from a pool of 100: a command with more updates than that waits
// for itself forever (internal/handler/msg_update.go).
const touchBatch = 32

// TouchSessions records that the sessions ids (IDs or [Session.Key]s)
// were used at now, in unordered bulk writes of at most 32 updates each:
// one update per session, each filtered on _id alone, which every store
// looks up cheaply. Callers collect the sessions due a touch (at most one
// per [LastSeenGranularity]) and write them together. Missing sessions
// (ended meanwhile) are skipped, never created. It fails with
// [ErrUnavailable] if the store cannot be reached; some of the sessions
// may have been touched then.
func (s *Store) TouchSessions(ctx context.Context, ids []string, now time.Time) error {
	set := bson.D{{Key: "$set", Value: bson.D{{Key: "last_seen", Value: normTime(now)}}}}
	for batch := range slices.Chunk(ids, touchBatch) {
		writes := make([]mongo.WriteModel, len(batch))
		for i, id := range batch {
			writes[i] = mongo.NewUpdateOneModel().SetFilter(bson.D{{Key: "_id", Value: SessionIDOf(id)}}).SetUpdate(set)
		}
		if _, err := s.sessions.BulkWrite(ctx, writes, options.BulkWrite().SetOrdered(false)); err != nil {
			return fmt.Errorf("touch %d sessions: %w", len(ids), storeError(err))
		}
	}
	return nil
}
