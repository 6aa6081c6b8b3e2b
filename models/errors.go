package models

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"
)

// ErrNotFound is returned (wrapped) when the document asked for does not
// exist, or, for sessions, has expired.
var ErrNotFound = errors.New("models: not found")

// ErrUnavailable is returned (wrapped, together with the driver's error)
// when the store cannot be reached: no server could be selected in time, the
// network failed, an operation timed out, the primary stepped down, or the
// Store was closed. Such calls may succeed if retried later.
var ErrUnavailable = errors.New("models: store unavailable")

// unavailableCodes are server error codes that mean "not now" rather than
// "never": shutdown, failover and network trouble seen by the server.
var unavailableCodes = [...]int{
	6,     // HostUnreachable
	7,     // HostNotFound
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// storeError maps a driver error to the package's sentinels. It is the only
// place that does so: no document becomes ErrNotFound; an unreachable store
// becomes ErrUnavailable wrapping the cause, so context.DeadlineExceeded and
// the driver's own error types stay visible to errors.Is and errors.As.
// Anything else is returned unchanged.
func storeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case errors.Is(err, context.Canceled):
		// The caller gave up; that says nothing about the store.
		return err
	case isUnavailable(err):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		return err
	}
}

func isUnavailable(err error) bool {
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) ||
		errors.Is(err, mongo.ErrClientDisconnected) ||
		errors.Is(err, topology.ErrTopologyClosed) {
		return true
	}
	if errors.As(err, new(topology.ServerSelectionError)) {
		return true
	}
	if se := mongo.ServerError(nil); errors.As(err, &se) {
		for _, code := range unavailableCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
	}
	return false
}
