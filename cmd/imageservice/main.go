// Command imageservice runs the demo image service: GET /image and GET
// /image/metadata, each allowed only with a service token from the app
// (POST /token) that grants that route. It knows only the app's JWK Set
// URL, issuer and its own audience id; it never calls the app otherwise,
// so it accepts a token until it expires even after the user signed out
// everywhere (see package imageservice).
//
// Usage:
//
//	imageservice [-addr 127.0.0.1:8090] [-jwks-url http://localhost:8080/.well-known/jwks.json]
//	             [-issuer http://localhost:8080] [-audience image-service]
//
// Each flag can also come from IMAGESERVICE_ADDR, IMAGESERVICE_JWKS_URL,
// IMAGESERVICE_ISSUER and IMAGESERVICE_AUDIENCE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"example.com/twitterlogin/cmd/internal/serve"
	"example.com/twitterlogin/config"
	"example.com/twitterlogin/handlers/bearer"
	"example.com/twitterlogin/handlers/imageservice"
	"example.com/twitterlogin/handlers/tokenkeys"
)

func main() {
	serve.Main("imageservice", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Getenv, os.Stdout) })
}

// options are the validated settings.
type options struct {
	addr        string
	allowRemote bool
	jwksURL     string
	issuer      string
	audience    string
	roots       string // PEM file of the CAs key chains must lead to; "" for none
}

// parseOptions reads flags, with defaults from config (and so from the
// environment), and returns every problem at once.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	def := config.LoadImageService(getenv)
	var o options
	fs := flag.NewFlagSet("imageservice", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", def.Addr, "listen address (loopback only unless -allow-remote)")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a non-loopback listen address")
	fs.StringVar(&o.jwksURL, "jwks-url", def.JWKSURL, "the app's JWK Set URL (https, or http on loopback)")
	fs.StringVar(&o.issuer, "issuer", def.Issuer, "the issuer (iss) tokens must carry: the app's PUBLIC_URL")
	fs.StringVar(&o.audience, "audience", def.Audience, "this service's audience id (aud)")
	fs.StringVar(&o.roots, "roots", def.Roots, "PEM file of certificate authorities: trust only keys whose x5c chain leads to one")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var problems []error
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	if err := serve.CheckAddr(o.addr, o.allowRemote); err != nil {
		problems = append(problems, err)
	}
	if o.issuer == "" || o.audience == "" {
		problems = append(problems, errors.New("-issuer and -audience must not be empty"))
	}
	return o, errors.Join(problems...)
}

// run serves the demo service until ctx ends, then shuts down gracefully.
// It returns an error for bad flags or when serving fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseOptions(args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the key refresh
	keys, err := bearer.RemoteKeys(ctx, bearer.RemoteOptions{URL: o.jwksURL, Logger: log})
	if err != nil {
		return err
	}
	bo := bearer.Options{Keys: keys, Issuer: o.issuer, Audience: o.audience}
	if o.roots != "" {
		if bo.Roots, err = tokenkeys.LoadRoots(o.roots); err != nil {
			return err
		}
	}
	v, err := bearer.New(bo)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := serve.NewServer(imageservice.New(v), serve.Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}, log)
	log.Info("imageservice: listening", "url", "http://"+ln.Addr().String(), "jwks_url", o.jwksURL, "issuer", o.issuer, "audience", o.audience)
	return serve.Serve(ctx, srv, ln, log)
}
