package handlers

import (
	"net/http"
	"strings"
	"testing"
)

// TestJSONBodyStrict: a repeated key or invalid UTF-8 in a JSON body is a
// clear 400 on every JSON endpoint, not silently last-wins or replaced.
func TestJSONBodyStrict(t *testing.T) {
	h := newTokenHarness(t, nil)
	b := h.browser()
	b.login("oauth2", "1001")

	tests := []struct {
		name   string
		path   string
		body   string
		status int
		says   string
	}{
		{"db repeated key", "/db", `{"text":"a","text":"b"}`, 400, `"text"`},
		{"db repeated key in another case", "/db", `{"text":"a","TEXT":"b"}`, 400, `"TEXT"`},
		{"db invalid UTF-8", "/db", "{\"text\":\"a\xffb\"}", 400, "UTF-8"},
		{"db valid", "/db", `{"text":"a"}`, 201, ""},
		{"token repeated key", "/token", `{"access":["/image"],"audience":"image-service","audience":"billing"}`, 400, `"audience"`},
		{"token invalid UTF-8", "/token", "{\"access\":[\"/image\"],\"audience\":\"image-service\xc3\"}", 400, "UTF-8"},
		{"token nested repeated key", "/token", `{"access":[{"a":1,"a":2}],"audience":"image-service"}`, 400, `"a"`},
		{"token valid", "/token", `{"access":["/image"],"audience":"image-service"}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.post(tt.path, "application/json", tt.body)
			if tt.status != http.StatusBadRequest {
				wantStatus(t, r, tt.status)
				return
			}
			if msg := wantJSONError(t, r, tt.status); !strings.Contains(msg, tt.says) {
				t.Errorf("error %q does not mention %q", msg, tt.says)
			}
		})
	}
}
