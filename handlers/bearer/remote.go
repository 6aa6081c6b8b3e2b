package bearer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"golang.org/x/time/rate"

	"example.com/twitterlogin/config"
)

// Defaults of RemoteOptions.
const (
	DefaultRefreshInterval    = time.Hour
	DefaultUnknownKIDInterval = 5 * time.Minute
	DefaultFetchTimeout       = 10 * time.Second
	// maxJWKSBytes bounds a fetched JWK Set document.
	maxJWKSBytes = 1 << 20
)

// RemoteOptions configure RemoteKeys.
type RemoteOptions struct {
	// URL is the issuer's JWK Set URL: https, or http on a loopback host.
	URL string
	// Client fetches the set; default a client with FetchTimeout that
	// does not follow redirects.
	Client *http.Client
	// RefreshInterval is how often the set is fetched again; default
	// DefaultRefreshInterval.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two fetches caused by
	// tokens with an unknown kid, so that a flood of made-up kids cannot
	// make this service hammer the issuer; default
	// DefaultUnknownKIDInterval.
	UnknownKIDInterval time.Duration
	// FetchTimeout bounds one fetch; default DefaultFetchTimeout.
	FetchTimeout time.Duration
	// Logger gets failed refreshes; default discard.
	Logger *slog.Logger
}

// RemoteKeys returns a key store that fetches the JWK Set at o.URL now and
// then every RefreshInterval, and again (rate-limited) when a token names
// an unknown kid. It keeps serving the last good set when a fetch fails,
// and starts even if the first fetch fails (it retries on the first
// token). Its background refresh ends with ctx. It fails on a bad URL.
//
// Fetching and caching are github.com/MicahParks/keyfunc/v3 and
// github.com/MicahParks/jwkset; which keys may verify what is decided by
// the Verifier.
func RemoteKeys(ctx context.Context, o RemoteOptions) (jwkset.Storage, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && config.IsLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("bearer: the JWK Set URL must be https (or http on loopback), but is %q", o.URL)
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.UnknownKIDInterval <= 0 {
		o.UnknownKIDInterval = DefaultUnknownKIDInterval
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = DefaultFetchTimeout
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := o.Client
	if client == nil {
		client = &http.Client{
			Timeout:       o.FetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	// Cap the document size: the library decodes the whole body.
	capped := *client
	capped.Transport = limitBody{next: client.Transport}

	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{o.URL}, keyfunc.Override{
		Client:      &capped,
		HTTPTimeout: o.FetchTimeout,
		// Requests for an unknown kid wait at most this long for the
		// limiter; it also bounds the refresh they trigger.
		RateLimitWaitMax:  o.FetchTimeout,
		RefreshInterval:   o.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDInterval), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				log.WarnContext(ctx, "refresh JWK Set failed; keeping the last good keys", "url", u, "err", err.Error())
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	return k.Storage(), nil
}

// limitBody is a RoundTripper that cuts response bodies at maxJWKSBytes,
// so an oversized set fails to decode instead of filling memory.
type limitBody struct{ next http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	next := l.next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, maxJWKSBytes), resp.Body}
	return resp, nil
}
