package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The revocation outbox: Twitter credentials waiting to be revoked at
// Twitter. A logout moves the credential from the user to the outbox
// ([Store.MoveTokenToOutbox]) instead of holding it in memory, so a crash
// or a deploy does not leave it live at Twitter; any instance works the
// outbox off.
//
// Everything an instance does to one entry is an operation on an _id (on
// FerretDB the only lookup that is not a scan, and inserts are its only
// atomic condition): an instance claims round n of an entry by inserting
// the lease document "<entry id>#n", which exactly one instance can do.
// Only the holder of a round writes the entry (it moves it on to round n+1
// and a later due time, or deletes it), so the entry's updates never race.
// A holder that died leaves its lease to lapse; then the next round is
// claimed. Finding due entries scans the outbox, which is small.
const (
	outboxCollection       = "revocation_outbox"
	outboxLeasesCollection = "revocation_leases"
	// maxLeaseSkips bounds how many lapsed rounds a claim steps over.
	maxLeaseSkips = 5
)

// Revocation is one credential waiting in the outbox, and what the event
// that records its outcome needs.
type Revocation struct {
	// ID is derived from the user and the credential's generation, so
	// that queueing one credential twice writes one entry.
	ID     string        `bson:"_id"`
	UserID bson.ObjectID `bson:"user_id"`
	// Token is sealed at rest like the user's ([TokenKey]).
	Token ProviderToken `bson:"token"`
	// Reason says why it is revoked ("logout", "log out everywhere",
	// "refresh lost to a logout").
	Reason    string `bson:"reason"`
	RequestID string `bson:"request_id,omitempty"`
	Client    string `bson:"client,omitempty"`
	IPPrefix  string `bson:"ip_prefix,omitempty"`
	// Round counts the rounds of attempts finished; the next claim is for
	// this round (or a later one, over lapsed leases).
	Round     int       `bson:"round"`
	NextAt    time.Time `bson:"next_at"`
	LastError string    `bson:"last_error,omitempty"`
	CreatedAt time.Time `bson:"created_at"`
	// Lease is the round this instance claimed ([Store.ClaimRevocation]);
	// it is not stored.
	Lease int `bson:"-"`
}

// outboxLease is the claim of one round of one entry.
type outboxLease struct {
	ID    string    `bson:"_id"` // entry id "#" round
	Until time.Time `bson:"until"`
}

func leaseID(entry string, round int) string { return entry + "#" + strconv.Itoa(round) }

// OutboxID is the outbox _id of the user's credential of generation;
// suffix tells apart credentials that were never stored under their
// generation ("" for a stored one).
func OutboxID(user bson.ObjectID, generation int64, suffix string) string {
	id := user.Hex() + ":" + strconv.FormatInt(generation, 10)
	if suffix != "" {
		id += ":" + suffix
	}
	return id
}

// QueueRevocation writes r to the outbox, due at once, with its token
// sealed, and returns the entry's id: r.ID ([OutboxID]), or r.ID with a
// counter when another credential holds r.ID already (two tokens of one
// generation, as from sign-ins in the same clock tick). Queueing one
// credential twice writes one entry.
func (s *Store) QueueRevocation(ctx context.Context, r Revocation, now time.Time) (string, error) {
	base := r.ID
	for n := range 4 {
		if n > 0 {
			r.ID = base + "~" + strconv.Itoa(n)
		}
		inserted, err := s.insertRevocation(ctx, r, now)
		if err != nil || inserted {
			return r.ID, err
		}
		if same, err := s.queuedAlready(ctx, r); err != nil || same {
			return r.ID, err
		}
	}
	return "", fmt.Errorf("queue revocation for user %s: outbox ids %s~* all taken", r.UserID.Hex(), base)
}

// insertRevocation inserts r, reporting false if its id is taken.
func (s *Store) insertRevocation(ctx context.Context, r Revocation, now time.Time) (bool, error) {
	r.Token = s.tokens.seal(r.UserID, r.Token)
	r.Token.Expiry = normTime(r.Token.Expiry)
	r.Round, r.LastError = 0, ""
	r.CreatedAt, r.NextAt = normTime(now), normTime(now)
	_, err := s.collection(outboxCollection).InsertOne(ctx, r)
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("queue revocation for user %s: %w", r.UserID.Hex(), storeError(err))
	}
	return true, nil
}

// queuedAlready reports whether the entry with r's id holds r's token.
func (s *Store) queuedAlready(ctx context.Context, r Revocation) (bool, error) {
	have, err := s.revocation(ctx, r.ID)
	if err != nil || have == nil {
		return false, err // gone meanwhile: queue r under the next id
	}
	if err := s.tokens.open(have.UserID, &have.Token); err != nil {
		return false, nil
	}
	return have.UserID == r.UserID && have.Token.AccessToken == r.Token.AccessToken, nil
}

// MoveTokenToOutbox queues the user's stored provider token for
// revocation and then removes it from the user, as at logout. The entry is
// written first, so a crash in between leaves a token queued that is also
// still stored (revoked anyway), never one that is in neither place. meta
// gives the entry's reason and request details. It returns the entry's
// id, "" when the user has no token; [ErrNotFound] if there is no user.
func (s *Store) MoveTokenToOutbox(ctx context.Context, id bson.ObjectID, meta Revocation, now time.Time) (string, error) {
	u, err := s.UserByID(ctx, id)
	if err != nil {
		return "", err
	}
	if u.Token == nil || u.Token.AccessToken == "" {
		return "", s.ClearProviderToken(ctx, id)
	}
	queued, err := s.queueToken(ctx, id, *u.Token, meta, now)
	if err != nil {
		return "", err
	}
	taken, err := s.takeProviderToken(ctx, id)
	if err != nil || taken == nil || taken.AccessToken == u.Token.AccessToken {
		return queued, err
	}
	// A sign-in replaced the token between the read and the removal: the
	// logout took that one too, so it is queued as well.
	if _, err := s.queueToken(ctx, id, *taken, meta, now); err != nil {
		return "", err
	}
	return queued, nil
}

// queueToken queues tok, the user's token, for revocation with meta's
// reason and request details.
func (s *Store) queueToken(ctx context.Context, id bson.ObjectID, tok ProviderToken, meta Revocation, now time.Time) (string, error) {
	meta.ID = OutboxID(id, tok.Generation, "")
	meta.UserID, meta.Token = id, tok
	return s.QueueRevocation(ctx, meta, now)
}

// takeProviderToken removes the user's provider token and returns it as it
// was, nil if there was none. Its filter is the _id alone, which the
// embedded store serves from an index (a condition on the token's
// generation would read every user), and on MongoDB reading and removing
// are one atomic step.
func (s *Store) takeProviderToken(ctx context.Context, id bson.ObjectID) (*ProviderToken, error) {
	var before User
	err := s.users.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "token", Value: ""}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.Before)).Decode(&before)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("take provider token of user %s: %w", id.Hex(), storeError(err))
	}
	before.ID = id
	s.openToken(&before)
	return before.Token, nil
}

// DueRevocations returns the ids of up to limit outbox entries due at now.
func (s *Store) DueRevocations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	cur, err := s.collection(outboxCollection).Find(ctx,
		bson.D{{Key: "next_at", Value: bson.D{{Key: "$lte", Value: normTime(now)}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("due revocations: %w", storeError(err))
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("due revocations: %w", storeError(err))
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// ClaimRevocation claims the entry's next round until until and returns
// the entry with its token opened and Lease set, or nil when it is not
// this caller's to work on: gone, not due at now, or claimed by a live
// lease. Work it off with [Store.RetryRevocation] or
// [Store.FinishRevocation].
func (s *Store) ClaimRevocation(ctx context.Context, id string, until, now time.Time) (*Revocation, error) {
	r, err := s.revocation(ctx, id)
	if err != nil || r == nil || r.NextAt.After(now) {
		return nil, err
	}
	round, err := s.claimRound(ctx, id, r.Round, until, now)
	if err != nil || round < 0 {
		return nil, err
	}
	// Read again under the lease: the entry may have been finished or
	// moved on between the first read and the claim.
	again, err := s.revocation(ctx, id)
	if err != nil || again == nil || again.NextAt.After(now) || again.Round > round {
		s.dropLease(ctx, id, round)
		return nil, err
	}
	if err := s.tokens.open(again.UserID, &again.Token); err != nil {
		// This instance lacks the key that sealed it (as during a key
		// rollout): leave it to one that has it.
		s.dropLease(ctx, id, round)
		return nil, fmt.Errorf("claim revocation %s: %w", id, err)
	}
	again.Token.Expiry = normTime(again.Token.Expiry)
	again.Lease = round
	return again, nil
}

// revocation reads one entry, nil if it is gone.
func (s *Store) revocation(ctx context.Context, id string) (*Revocation, error) {
	r, err := findByID[Revocation](ctx, s.collection(outboxCollection), id)
	if err != nil {
		return nil, fmt.Errorf("revocation %s: %w", id, err)
	}
	if r == nil {
		return nil, nil
	}
	r.NextAt = normTime(r.NextAt)
	return r, nil
}

// claimRound inserts the lease of round from, or of a later round when
// from's lease has lapsed, and returns the round claimed, -1 when a live
// lease holds the entry.
func (s *Store) claimRound(ctx context.Context, id string, from int, until, now time.Time) (int, error) {
	leases := s.collection(outboxLeasesCollection)
	for round := from; round <= from+maxLeaseSkips; round++ {
		_, err := leases.InsertOne(ctx, outboxLease{ID: leaseID(id, round), Until: normTime(until)})
		if err == nil {
			return round, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return -1, fmt.Errorf("claim revocation %s: %w", id, storeError(err))
		}
		l, err := findByID[outboxLease](ctx, leases, leaseID(id, round))
		switch {
		case err != nil:
			return -1, fmt.Errorf("claim revocation %s: %w", id, err)
		case l == nil:
			continue // dropped meanwhile: its round is used up anyway
		case !normTime(l.Until).Before(normTime(now)):
			return -1, nil
		}
		// Its holder died or overran: that round is lost, claim the next.
	}
	return -1, nil
}

// dropLease deletes one lease; a failure only leaves a stale document.
func (s *Store) dropLease(ctx context.Context, id string, round int) {
	_, err := s.collection(outboxLeasesCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: leaseID(id, round)}})
	if err != nil {
		s.log.Warn("drop revocation lease", "id", id, "err", err.Error())
	}
}

// RetryRevocation puts a claimed entry back for another round at nextAt,
// noting why this one failed. Only the lease holder calls it.
func (s *Store) RetryRevocation(ctx context.Context, r *Revocation, nextAt time.Time, lastErr string) error {
	_, err := s.collection(outboxCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: r.ID}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "round", Value: r.Lease + 1},
			{Key: "next_at", Value: normTime(nextAt)},
			{Key: "last_error", Value: lastErr},
		}}})
	if err != nil {
		return fmt.Errorf("retry revocation %s: %w", r.ID, storeError(err))
	}
	return nil
}

// FinishRevocation deletes a claimed entry (revoked, or given up) and
// then its leases. The entry goes first: a claim that slips in after the
// leases are gone finds no entry.
func (s *Store) FinishRevocation(ctx context.Context, r *Revocation) error {
	if _, err := s.collection(outboxCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: r.ID}}); err != nil {
		return fmt.Errorf("finish revocation %s: %w", r.ID, storeError(err))
	}
	for round := 0; round <= r.Lease; round++ {
		s.dropLease(ctx, r.ID, round)
	}
	return nil
}
