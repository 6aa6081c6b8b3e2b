package serve_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"example.com/twitterlogin/cmd/internal/serve"
)

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr        string
		allowRemote bool
		wantErr     bool
	}{
		{"127.0.0.1:8081", false, false},
		{"localhost:0", false, false},
		{"[::1]:8090", false, false},
		{":8081", false, true}, // every interface
		{"0.0.0.0:8081", false, true},
		{"0.0.0.0:8081", true, false},
		{"192.168.1.2:80", true, false},
		{"no-port", true, true},
	}
	for _, tt := range tests {
		err := serve.CheckAddr(tt.addr, tt.allowRemote)
		if (err != nil) != tt.wantErr {
			t.Errorf("CheckAddr(%q, %v) = %v, want error %v", tt.addr, tt.allowRemote, err, tt.wantErr)
		}
	}
}

func TestNewServer(t *testing.T) {
	lim := serve.Limits{ReadHeaderTimeout: 1, ReadTimeout: 2, WriteTimeout: 3, IdleTimeout: 4, MaxHeaderBytes: 5}
	srv := serve.NewServer(http.NotFoundHandler(), lim, slog.New(slog.DiscardHandler))
	got := serve.Limits{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes}
	if got != lim || srv.ErrorLog == nil || srv.Handler == nil {
		t.Errorf("NewServer: limits %+v, error log %v; want %+v and a log", got, srv.ErrorLog, lim)
	}
	if srv := serve.NewServer(http.NotFoundHandler(), lim, nil); srv.ErrorLog != nil {
		t.Error("NewServer with a nil logger set ErrorLog")
	}
}

// TestStart serves a request, stops gracefully, and reports no error for
// the shutdown itself.
func TestStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	errs := make(chan error, 1)
	stop := serve.Start(serve.NewServer(h, serve.Limits{ReadHeaderTimeout: time.Second}, nil), ln, func(err error) { errs <- err })
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body = %q, want ok", body)
	}
	stop()
	select {
	case err := <-errs:
		t.Errorf("onErr got %v after a graceful stop", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestServe returns nil once ctx ends and the server has shut down.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.Serve(ctx, serve.NewServer(http.NotFoundHandler(), serve.Limits{}, nil), ln, slog.New(slog.DiscardHandler))
	}()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}
