package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxJSONDepth bounds the duplicate-key walk; no API body nests deeper.
const maxJSONDepth = 32

// errJSONTooDeep stops the walk; the body is refused as malformed.
var errJSONTooDeep = errors.New("json nested too deeply")

// decodeJSONBody reads exactly one JSON object with only v's fields into v.
// encoding/json silently replaces invalid UTF-8 and lets the last of two
// equal keys win, so both are refused here, before validation sees the text.
// help is the message for a body of the wrong shape.
func decodeJSONBody(body io.Reader, v any, help string) error {
	raw, err := io.ReadAll(body)
	if err != nil {
		return bodyError(err)
	}
	if !utf8.Valid(raw) {
		return failure(http.StatusBadRequest, "The request body must be valid UTF-8.", nil)
	}
	if key, err := duplicateKey(json.NewDecoder(bytes.NewReader(raw)), 0); key != "" {
		return failure(http.StatusBadRequest, fmt.Sprintf("The field %q appears more than once.", key), nil)
	} else if errors.Is(err, errJSONTooDeep) {
		return failure(http.StatusBadRequest, help, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return failure(http.StatusBadRequest, help, err)
	}
	if dec.More() {
		return failure(http.StatusBadRequest, "Send exactly one JSON object.", nil)
	}
	return nil
}

// duplicateKey walks one JSON value and returns the first key repeated
// within an object at any level. Keys are compared case-folded, as
// encoding/json matches them to fields. Syntax errors are left to the
// real decode.
func duplicateKey(dec *json.Decoder, depth int) (string, error) {
	if depth > maxJSONDepth {
		return "", errJSONTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return "", err
			}
			key, _ := t.(string)
			if seen[foldKey(key)] {
				return key, nil
			}
			seen[foldKey(key)] = true
			if key, err := duplicateKey(dec, depth+1); key != "" || err != nil {
				return key, err
			}
		}
	case json.Delim('['):
		for dec.More() {
			if key, err := duplicateKey(dec, depth+1); key != "" || err != nil {
				return key, err
			}
		}
	default:
		return "", nil
	}
	_, err = dec.Token() // the closing delimiter
	return "", err
}

// foldKey maps each rune to the smallest rune of its simple case-fold
// orbit, so foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b).
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}, s)
}
