package bearer_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/imageservice"
	"example.com/twitterlogin/handlers/tokenkeys"
)

// BenchmarkImageService measures the demo image service with bearer
// verification (keys cached from its JWK Set URL) against the same routes
// with verification off, over loopback HTTP with keep-alive connections
// and in-process (no network).
func BenchmarkImageService(b *testing.B) {
	for _, tc := range []struct{ name, alg string }{{"off", ""}, {"RS256", tokenkeys.RS256}, {"ES256", tokenkeys.ES256}, {"EdDSA", tokenkeys.EdDSA}} {
		var h http.Handler = imageservice.Routes()
		header := ""
		if tc.alg != "" {
			k := testKey(b, tc.alg, "a")
			jwks := newJWKSServer(b, k)
			ctx, cancel := context.WithCancel(context.Background())
			b.Cleanup(cancel)
			keys, err := bearer.RemoteKeys(ctx, bearer.RemoteOptions{URL: jwks.URL})
			if err != nil {
				b.Fatal(err)
			}
			v, err := bearer.New(bearer.Options{Keys: keys, Issuer: testIssuer, Audience: testAudience})
			if err != nil {
				b.Fatal(err)
			}
			h = imageservice.New(v)
			header = "Bearer " + mustSign(b, k, claims(time.Now(), "/image"))
		}

		b.Run("loopback/"+tc.name, func(b *testing.B) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, srv.URL+"/image", nil)
					if header != "" {
						req.Header.Set("Authorization", header)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})

		b.Run("inprocess/"+tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/image", nil)
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
