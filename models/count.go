package models

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CountLiveSessions returns how many sessions are still valid at now
// (ExpiresAt > now, the same test as [Store.SessionByID]), whatever the
// store's TTL index has or has not deleted yet. It reads every session
// document on stores without indexes (FerretDB), so call it now and then
// (for a metrics gauge), never per request. It fails with an error
// wrapping [ErrUnavailable] if the store cannot be reached.
func (s *Store) CountLiveSessions(ctx context.Context, now time.Time) (int64, error) {
	filter := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: normTime(now)}}}}
	n, err := s.sessions.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("count live sessions: %w", storeError(err))
	}
	return n, nil
}
