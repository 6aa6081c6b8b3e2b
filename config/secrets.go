package config

import (
	"encoding/base64"
	"strings"
)

// parseOldSecrets reads SESSION_SECRETS_OLD. An old secret still verifies
// cookies, so it must be as random as the current one outside dev mode.
// Problems are reported by position, never by value.
func parseOldSecrets(raw string, current []byte, dev bool, bad func(string, ...any)) [][]byte {
	var olds [][]byte
	for i, old := range strings.Split(raw, ",") {
		old = strings.TrimSpace(old)
		switch {
		case old == "":
		case len(old) < MinSecretLen:
			bad("SESSION_SECRETS_OLD entry %d must be at least %d bytes, but is %d bytes", i+1, MinSecretLen, len(old))
		case old == string(current):
			bad("SESSION_SECRETS_OLD entry %d is the same as SESSION_SECRET", i+1)
		case !dev && !LooksRandom([]byte(old)):
			bad("SESSION_SECRETS_OLD entry %d does not look random (a placeholder, or too few different characters)", i+1)
		default:
			olds = append(olds, []byte(old))
		}
	}
	return olds
}

// parseNamedKeys reads "id:base64,id:base64" (standard base64 of 32
// bytes each), reporting problems by position, never by value. Outside
// dev mode a key must look random: 32 zero bytes is no key.
func parseNamedKeys(raw string, sessionSecret []byte, dev bool, bad func(string, ...any)) []NamedKey {
	var keys []NamedKey
	seen := map[string]bool{}
	for i, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, b64, _ := strings.Cut(item, ":")
		key, err := base64.StdEncoding.DecodeString(b64)
		switch {
		case !keyID.MatchString(id):
			bad("TOKEN_ENCRYPTION_KEYS entry %d needs an id of 1 to 32 letters, digits, - or _ before the colon", i+1)
		case err != nil || len(key) != 32:
			bad("TOKEN_ENCRYPTION_KEYS entry %d (%s) must be the standard base64 of exactly 32 bytes", i+1, id)
		case seen[id] || seen["key:"+string(key)]:
			bad("TOKEN_ENCRYPTION_KEYS entry %d (%s) repeats an id or a key", i+1, id)
		case string(key) == string(sessionSecret):
			bad("TOKEN_ENCRYPTION_KEYS entry %d (%s) is the session secret; use a key of its own", i+1, id)
		case !dev && !LooksRandom(key):
			bad("TOKEN_ENCRYPTION_KEYS entry %d (%s) does not look random (too few different bytes): use `openssl rand -base64 32`", i+1, id)
		default:
			seen[id], seen["key:"+string(key)] = true, true
			keys = append(keys, NamedKey{ID: id, Key: key})
		}
	}
	return keys
}

// MinDistinctBytes is the fewest different bytes a secret needs to look
// random (see [LooksRandom]).
const MinDistinctBytes = 12

// LooksRandom is the one rule for "does this secret look random": it
// refuses secrets copied from examples ([IsPlaceholder]) and low-entropy
// ones (fewer than [MinDistinctBytes] different bytes). It is a cheap
// guard, not a proof of entropy. Load refuses such secrets outside dev
// mode, and `server -check` reports them.
func LooksRandom(secret []byte) bool {
	return !IsPlaceholder(secret) && DistinctBytes(secret) >= MinDistinctBytes
}

// IsPlaceholder reports whether secret contains a word that marks the
// example and placeholder secrets of this repository.
func IsPlaceholder(secret []byte) bool {
	// These words mark the example and placeholder secrets of this
	// repository's README, compose file and CI script.
	placeholderWords := []string{"placeholder", "changeme", "change-me", "example", "secret-here", "not-a-real"}
	lower := strings.ToLower(string(secret))
	for _, w := range placeholderWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

// DistinctBytes returns how many different byte values b contains.
func DistinctBytes(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}
