package models

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ImportUsers inserts users in bulk, as they are (ids included), for
// seeding a store before a load test or a migration. Unlike
// [Store.UpsertTwitterUser] it does not look for existing documents, so a
// Twitter id that is already present fails the import (unique index).
func (s *Store) ImportUsers(ctx context.Context, users []User) error {
	if len(users) == 0 {
		return nil
	}
	docs := make([]any, len(users))
	for i := range users {
		u := users[i]
		u.normalize()
		docs[i] = u
	}
	if _, err := s.users.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("import %d users: %w", len(users), storeError(err))
	}
	ids := make([]bson.ObjectID, len(users))
	for i := range users {
		ids[i] = users[i].ID
	}
	s.createDigests(ctx, ids...)
	return nil
}
