package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/testdouble"
	"example.com/twitterlogin/models"
)

// holdStore is the real store with RecordsByOwner held: each call reports
// on held, then waits until its context ends (the client leaving, or the
// store deadline) before it goes on to the real store with that context.
type holdStore struct {
	*models.Store
	held chan struct{}
}

func (s *holdStore) RecordsByOwner(ctx context.Context, owner bson.ObjectID, limit int) ([]models.Record, error) {
	s.held <- struct{}{}
	<-ctx.Done()
	return s.Store.RecordsByOwner(ctx, owner, limit)
}

// holdInstance is another app instance on the harness's config, clock and
// store, but with the store held, logging into a buffer of its own.
type holdInstance struct {
	srv   *Server
	app   *httptest.Server
	store *holdStore
	logs  *testdouble.Buffer
	done  chan struct{} // one value per request fully handled: logged and counted
}

func newHoldInstance(t *testing.T, h *harness, storeTimeout time.Duration) *holdInstance {
	t.Helper()
	hi := &holdInstance{
		store: &holdStore{Store: h.store, held: make(chan struct{}, 1)},
		logs:  &testdouble.Buffer{},
		done:  make(chan struct{}, 4),
	}
	var err error
	hi.srv, err = New(Options{Config: h.cfg, Store: hi.store, Now: h.clock.Now, StoreTimeout: storeTimeout,
		Logger: slog.New(slog.NewJSONHandler(hi.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hi.srv.Close(context.Background()) })
	handler := hi.srv.Handler()
	hi.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r)
		hi.done <- struct{}{}
	}))
	t.Cleanup(hi.app.Close)
	return hi
}

// waitHandled waits until the instance has finished one request. The bound
// only keeps a broken build from hanging the suite.
func (hi *holdInstance) waitHandled(t *testing.T) {
	t.Helper()
	select {
	case <-hi.done:
	case <-time.After(time.Minute):
		t.Fatal("the app never finished the request")
	}
}

// metrics returns the instance's metrics in the Prometheus text format.
func (hi *holdInstance) metrics(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	hi.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

// logLines decodes a JSON log, one record a line.
func logLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for line := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestClientDisconnect: a client that leaves while its request waits on
// the store is logged at debug as "client disconnected" and counted as
// 499, with no error line; a client that waits out a store deadline still
// gets 503, logged as an error.
func TestClientDisconnect(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	b.login(config.OAuth2, "1001")
	cookie := b.cookie(sessionCookie)

	tests := []struct {
		name       string
		route      string
		disconnect bool // else the client waits for the store deadline
		timeout    time.Duration
		status     int // logged and counted
	}{
		// A long deadline: only the client's leaving ends the store call.
		{"client leaves GET /db", "/db", true, time.Minute, statusClientClosedRequest},
		{"client leaves GET /", "/", true, time.Minute, statusClientClosedRequest},
		// Long enough for the session lookup, which shares the timeout.
		{"store deadline on GET /db", "/db", false, time.Second, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hi := newHoldInstance(t, h, tc.timeout)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, hi.app.URL+tc.route, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: cookie})
			if tc.disconnect {
				errc := make(chan error, 1)
				go func() {
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					errc <- err
				}()
				<-hi.store.held
				cancel()
				if err := <-errc; !errors.Is(err, context.Canceled) {
					t.Fatalf("cancelled client: err %v, want context.Canceled", err)
				}
			} else {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantJSONError(t, &response{Response: resp, body: string(body)}, tc.status)
				select {
				case <-hi.store.held:
				default:
					t.Fatal("the 503 did not come from the held store call")
				}
			}
			hi.waitHandled(t)

			wantDisconnectLog(t, logLines(t, hi.logs.String()), tc.route, tc.status)
			m := hi.metrics(t)
			if want := fmt.Sprintf(`twitterlogin_http_requests_total{method="GET",route=%q,status="%d"} 1`, tc.route, tc.status); !strings.Contains(m, want) {
				t.Errorf("metrics lack %s", want)
			}
			if bad := fmt.Sprintf(`route=%q,status="200"`, tc.route); strings.Contains(m, bad) {
				t.Errorf("metrics count a 200 for %s", tc.route)
			}
		})
	}
}

// wantDisconnectLog checks the log of one request to route that ended
// with status. A 499 has a debug "client disconnected" line, and no error
// or warning, not even of "context canceled"; anything else has its
// "request failed" error line and no "client disconnected".
func wantDisconnectLog(t *testing.T, lines []map[string]any, route string, status int) {
	t.Helper()
	byMsg := map[string]map[string]any{}
	for _, l := range lines {
		byMsg[l["msg"].(string)] = l
		level := l["level"].(string)
		if status == statusClientClosedRequest && (level == "ERROR" || level == "WARN" ||
			level != "DEBUG" && strings.Contains(fmt.Sprint(l), "context canceled")) {
			t.Errorf("%s line for a client that left: %v", level, l)
		}
	}
	access, gone, failed := byMsg["request"], byMsg["client disconnected"], byMsg["request failed"]
	if access == nil || access["status"] != float64(status) || access["level"] != "INFO" {
		t.Fatalf("access log line %v, want INFO with status %d", access, status)
	}
	if status != statusClientClosedRequest {
		if gone != nil {
			t.Errorf("a %d is logged as a disconnect: %v", status, gone)
		}
		if failed == nil || failed["level"] != "ERROR" || failed["status"] != float64(status) {
			t.Errorf("request failed line %v, want ERROR with status %d", failed, status)
		}
		return
	}
	if gone == nil || failed != nil {
		t.Fatalf("want a \"client disconnected\" line and no \"request failed\" line: %v", lines)
	}
	for k, want := range map[string]any{"level": "DEBUG", "status": float64(status), "method": "GET", "route": route} {
		if gone[k] != want {
			t.Errorf("client disconnected %s = %v, want %v", k, gone[k], want)
		}
	}
	if id, _ := gone["request_id"].(string); id == "" || id != access["request_id"] {
		t.Errorf("client disconnected request_id %q, access log's %v", id, access["request_id"])
	}
}

// TestClientDisconnect_OnlyTheClientsCancel: only the request's own
// cancellation makes a disconnect; deadlines and outages do not.
func TestClientDisconnect_OnlyTheClientsCancel(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now())
	defer cancel2()
	storeDeadline := fmt.Errorf("list records: %w: %w", models.ErrUnavailable, context.DeadlineExceeded)
	tests := []struct {
		name string
		req  context.Context
		err  error
		want bool
	}{
		{"client left during a store call", gone, fmt.Errorf("list records: %w", context.Canceled), true},
		{"client left during a Twitter call", gone, &providerError{step: "token exchange", err: context.Canceled}, true},
		{"store deadline, client left too", gone, storeDeadline, false},
		{"store outage, client left too", gone, fmt.Errorf("list records: %w", models.ErrUnavailable), false},
		{"store deadline, client waiting", context.Background(), storeDeadline, false},
		{"cancelled inside, client waiting", context.Background(), context.Canceled, false},
		{"request deadline", expired, context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequestWithContext(tc.req, http.MethodGet, "/db", nil)
			if got := clientGone(c, tc.err); got != tc.want {
				t.Errorf("clientGone(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}
