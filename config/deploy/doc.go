// Package deploy holds the production deployment files that
// docker-compose.yml at the repository's root mounts: the Caddyfile of the
// TLS-terminating proxy and the MongoDB replica set's one-shot init
// scripts. It has no Go code; its test loads the compose file and checks
// it against the app's configuration.
package deploy
