// Package static holds the app's CSS and other assets, embedded in the
// binary and served under /static/.
package static

import "embed"

// FS is the asset tree; app.css is at its root.
//
//go:embed *.css
var FS embed.FS
