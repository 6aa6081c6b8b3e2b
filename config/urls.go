package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// devPublicURL is PUBLIC_URL's default: none outside dev mode; in dev
// mode http://localhost on ADDR's port, so callbacks reach the port the app
// listens on (localhost, since http is allowed only on loopback).
func devPublicURL(dev bool, addr string) string {
	if !dev {
		return ""
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		port = "8080" // ADDR's own error says what is wrong
	}
	return "http://" + net.JoinHostPort("localhost", port)
}

// parseBaseURL accepts an absolute http(s) URL with no query or fragment.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("must be an absolute URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("must be an absolute http(s) URL, but is %q", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("must have no user info, query or fragment, but is %q", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// IsLoopback reports whether host names this machine: "localhost" or a
// loopback address. It is the one loopback rule: PUBLIC_URL, the side
// programs' -addr and the bearer JWK Set URL all use it.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RemoteDevListeners lists, in dev mode, the listen addresses that are not
// loopback only, as "ADDR=:8080": dev mode runs on generated secrets and,
// when it runs, the dev provider, which signs anyone in; neither should be
// reachable from the network by accident. An empty host listens on every
// interface.
func (c *Config) RemoteDevListeners() []string {
	if !c.Dev {
		return nil
	}
	var out []string
	check := func(name, addr string) {
		if host, _, err := net.SplitHostPort(addr); err != nil || !IsLoopback(host) {
			out = append(out, name+"="+addr)
		}
	}
	check("ADDR", c.Addr)
	if c.DevProvider {
		check("DEV_PROVIDER_ADDR", c.DevProviderAddr)
	}
	return out
}
