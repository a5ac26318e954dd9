package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Normalize is the form a declared ID takes before it is hashed: white space
// trimmed and lower-cased, so that "  Bob@Example.COM " and
// "bob@example.com" hash the same on both sides.
func Normalize(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// SHA256Hex returns the lower-case hexadecimal SHA-256 of Normalize(s): the
// way a declared ID travels when its data source says it is hashed.
func SHA256Hex(s string) string {
	sum := sha256.Sum256([]byte(Normalize(s)))
	return hex.EncodeToString(sum[:])
}

// isSHA256Hex reports whether s is 64 lower-case hexadecimal characters.
func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
