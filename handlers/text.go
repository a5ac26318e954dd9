package handlers

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf8"

	"audiencebridge/models"
)

// capitalize turns a Go error string (lower-case by convention) into a
// sentence for the page.
func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func retryAfter(t *models.ThrottledError) string {
	return strconv.Itoa(int(math.Ceil(t.RetryAfter.Seconds())))
}

func asMaxBytes(err error, target **http.MaxBytesError) bool { return errors.As(err, target) }
