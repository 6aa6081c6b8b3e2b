package config

import "strings"

// DevTwitter is the configuration of cmd/devtwitter, the stand-alone
// development Twitter provider. Its command-line flags override it.
type DevTwitter struct {
	// Callbacks are the registered callback URLs, from
	// DEV_TWITTER_CALLBACKS (comma-separated); nil when it is unset.
	Callbacks []string
}

// LoadDevTwitter reads cmd/devtwitter's variables through getenv. The
// provider checks the callback URLs itself when it starts.
func LoadDevTwitter(getenv func(string) string) DevTwitter {
	var c DevTwitter
	for cb := range strings.SplitSeq(getenv("DEV_TWITTER_CALLBACKS"), ",") {
		if cb = strings.TrimSpace(cb); cb != "" {
			c.Callbacks = append(c.Callbacks, cb)
		}
	}
	return c
}

// ImageService is the configuration of cmd/imageservice, the demo image
// service. Each field is the default of the command-line flag of the same
// name, which overrides it.
type ImageService struct {
	Addr     string // IMAGESERVICE_ADDR: the listen address
	JWKSURL  string // IMAGESERVICE_JWKS_URL: the app's JWK Set URL
	Issuer   string // IMAGESERVICE_ISSUER: the iss tokens must carry
	Audience string // IMAGESERVICE_AUDIENCE: this service's aud
	// Roots (IMAGESERVICE_ROOTS), if set, is a PEM file of certificate
	// authorities a signing key's x5c chain must lead to.
	Roots string
}

// LoadImageService reads cmd/imageservice's variables through getenv,
// with defaults for the app running in dev mode on this machine. The
// program checks the values together with its flags.
func LoadImageService(getenv func(string) string) ImageService {
	env := withDefaults(getenv)
	return ImageService{
		Addr:     env("IMAGESERVICE_ADDR", "127.0.0.1:8090"),
		JWKSURL:  env("IMAGESERVICE_JWKS_URL", "http://localhost:8080/.well-known/jwks.json"),
		Issuer:   env("IMAGESERVICE_ISSUER", "http://localhost:8080"),
		Audience: env("IMAGESERVICE_AUDIENCE", DemoAudience),
		Roots:    env("IMAGESERVICE_ROOTS", ""),
	}
}
