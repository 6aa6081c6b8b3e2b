// Package templates holds the app's HTML pages, embedded in the binary so a
// deployment is one file.
package templates

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
)

//go:embed *.html
var files embed.FS

// Parse parses every page. Each page defines a template named after it
// ("index", "logout", "error") built on the shared "header" and "footer".
func Parse() (*template.Template, error) {
	t, err := template.New("pages").Funcs(template.FuncMap{"statusText": http.StatusText}).ParseFS(files, "*.html")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	return t, nil
}
