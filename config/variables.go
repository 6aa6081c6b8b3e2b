package config

// variables are the environment variables [Load] reads, in README order.
// TestVariables checks the list against what Load actually asks for.
var variables = []string{
	"APP_ENV",
	"ADDR",
	"PUBLIC_URL",
	"MONGODB_URI",
	"MONGODB_DATABASE",
	"DATA_DIR",
	"SESSION_SECRET",
	"SESSION_SECRETS_OLD",
	"SHUTDOWN_DRAIN",
	"TOKEN_ENCRYPTION_KEYS",
	"SESSION_LIFETIME",
	"SESSION_CACHE_TTL",
	"TWITTER_CLIENT_ID",
	"TWITTER_CLIENT_SECRET",
	"TWITTER_CONSUMER_KEY",
	"TWITTER_CONSUMER_SECRET",
	"TWITTER_FLOW",
	"TWITTER_API_BASE",
	"TWITTER_AUTHORIZE_BASE",
	"TWITTER_TIMEOUT",
	"TWITTER_OFFLINE_ACCESS",
	"DEV_PROVIDER_ADDR",
	"LOG_LEVEL",
	"TOKEN_KEY_FILES",
	"TOKEN_CERT_FILES",
	"TOKEN_ROOT_FILE",
	"TOKEN_LIFETIME",
	"TOKEN_AUDIENCE",
	"TOKEN_DEFAULT_ROLES",
	"TOKEN_ROLES",
	"METRICS_ADDR",
	"TRUSTED_PROXIES",
	"RATE_LIMIT_LOGIN",
	"RATE_LIMIT_WRITES",
}

// Variables returns the names of every environment variable [Load] reads,
// so deployment files can be checked against them. The caller owns the
// returned slice.
func Variables() []string {
	return append([]string(nil), variables...)
}
