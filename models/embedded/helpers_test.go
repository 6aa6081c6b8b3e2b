package embedded_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"example.com/twitterlogin/models/embedded"
)

// testContext is t's context with a deadline for one store operation.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustStart starts an embedded store with opts and closes it on cleanup.
func mustStart(t *testing.T, opts embedded.Options) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(testContext(t), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// withClient connects the official driver to srv, runs f and disconnects.
func withClient(t *testing.T, srv *embedded.Server, f func(*mongo.Collection)) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(srv.URI()).SetServerSelectionTimeout(2 * time.Second))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer func() {
		if err := client.Disconnect(context.Background()); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
	}()
	f(client.Database("db").Collection("c"))
}
