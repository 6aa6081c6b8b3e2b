package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"example.com/twitterlogin/models"
)

// A login state cookie is deleted from the browser at the callback, but a
// kept copy (a second tab, a proxy log, an attacker who saw the callback
// URL and the cookie) would open again until it expires. Replaying the
// callback redeems the code (OAuth 2.0) or verifier (OAuth 1.0a) a second
// time, and Twitter answers that by revoking the user's whole grant, which
// kills their stored credential. So every callback spends its state's
// nonce in the store (one insert by _id) before it calls Twitter, and a
// second callback with the same state is refused there.

// spentLoginSweep spaces the deletions of expired spent-login records.
const spentLoginSweep = 5 * time.Minute

// errLoginReplayed is the cause of a callback whose login state was used
// before.
var errLoginReplayed = errors.New("login state already used")

// spendLogin marks ls used on the server. A replay fails with a 400 that
// asks the user to sign in again; a store that cannot say fails the
// callback too (503), since Twitter must not see the code twice.
func (s *Server) spendLogin(ctx context.Context, ls loginState) error {
	if ls.Nonce == "" {
		// Sealed before nonces existed (at most loginStateTTL ago).
		return loginFailed(fmt.Errorf("%w: no nonce", errNoLoginState))
	}
	ctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	err := s.store.SpendLoginState(ctx, ls.Nonce, time.Unix(ls.ExpiresAt, 0))
	switch {
	case errors.Is(err, models.ErrAlreadySpent):
		return failure(http.StatusBadRequest, "This sign-in link was already used. Please sign in again.",
			fmt.Errorf("%w: %w", errLoginReplayed, err))
	case err != nil:
		return fmt.Errorf("spend login state: %w", err)
	}
	return nil
}

// sweepSpentLogins deletes expired spent-login records now and every
// spentLoginSweep until ctx ends. Every instance sweeps; the deletions
// are idempotent, and on FerretDB each one scans only that small
// collection.
func (s *Server) sweepSpentLogins(ctx context.Context) {
	t := time.NewTicker(spentLoginSweep)
	defer t.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		n, err := s.store.DeleteSpentLogins(sctx, s.now())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("delete spent logins", "err", err.Error())
		case n > 0:
			s.log.Debug("deleted spent logins", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
