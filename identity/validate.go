package identity

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ECIDLength is the number of decimal digits of a visitor ID (ECID / MCID).
const ECIDLength = 38

// MaxDeclaredIDBytes is the longest declared ID accepted, in bytes.
const MaxDeclaredIDBytes = 255

// MaxEmailBytes and MaxEmailLocalBytes bound an e-mail address and the part
// before its "@" (RFC 5321's practical limits).
const (
	MaxEmailBytes      = 254
	MaxEmailLocalBytes = 64
)

// ErrInvalid is matched by errors.Is for every error this package returns
// about a bad value, so callers can tell bad input (a 400 or a rejected row)
// from a fault.
var ErrInvalid = errors.New("invalid identifier")

// invalidError carries a message written for a marketer; it is ErrInvalid.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// quoteLimit is how many characters of a bad value an error message quotes:
// enough to find the value in a file, short enough to read on one line.
const quoteLimit = 40

// quote returns s as a Go-quoted string cut to quoteLimit characters, so
// that control characters and invalid UTF-8 show up as escapes.
func quote(s string) string {
	n := 0
	for i := range s {
		if n == quoteLimit {
			return fmt.Sprintf("%q", s[:i]+"…")
		}
		n++
	}
	return fmt.Sprintf("%q", s)
}

// ValidateECID reports whether s is a visitor ID: exactly 38 ASCII decimal
// digits, nothing around them. Callers trim white space first when the value
// comes from a person or a file (Rule.Identifier does).
func ValidateECID(s string) error {
	if s == "" {
		return invalid("a visitor ID (ECID) is empty: it must have %d digits", ECIDLength)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			if c == utf8.RuneError || !unicode.IsPrint(c) || unicode.IsSpace(c) {
				return invalid("a visitor ID (ECID) has only the digits 0 to 9, this one has other characters: %s", quote(s))
			}
			return invalid("a visitor ID (ECID) has only the digits 0 to 9, this one contains %q: %s", c, quote(s))
		}
	}
	if len(s) != ECIDLength {
		return invalid("a visitor ID (ECID) has %d digits, this one has %d: %s", ECIDLength, len(s), quote(s))
	}
	return nil
}

// ValidateDeclaredID reports whether s can be a declared ID: valid UTF-8,
// not blank, at most MaxDeclaredIDBytes bytes, no ":" (the audience library
// uses it to separate an integration code from the ID) and no control
// characters. White space around s is allowed here because it is trimmed
// before the ID travels; the length counts s as given.
func ValidateDeclaredID(s string) error {
	switch {
	case !utf8.ValidString(s):
		return invalid("a declared ID must be UTF-8 text, this one is not: %s", quote(s))
	case strings.TrimSpace(s) == "":
		return invalid("a declared ID is empty")
	case len(s) > MaxDeclaredIDBytes:
		return invalid("a declared ID has at most %d bytes, this one has %d: %s", MaxDeclaredIDBytes, len(s), quote(s))
	case strings.Contains(s, ":"):
		return invalid("a declared ID must not contain \":\": %s", quote(s))
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid("a declared ID must not contain control characters such as tabs or line breaks: %s", quote(s))
	}
	return nil
}

// ValidateEmail reports whether s is a practical e-mail address: a bare
// local@domain (no display name, no comments, no spaces), a dot inside the
// domain, at most MaxEmailBytes bytes and a local part of at most
// MaxEmailLocalBytes. It is stricter than RFC 5322 on purpose: the address
// must be one a mail system will deliver to and a person would type.
func ValidateEmail(s string) error {
	if len(s) > MaxEmailBytes {
		return invalid("an e-mail address has at most %d characters, this one has %d: %s", MaxEmailBytes, len(s), quote(s))
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || strings.IndexByte(s, '@') != at {
		return notEmail(s)
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > MaxEmailLocalBytes {
		return invalid("the part before \"@\" of an e-mail address has at most %d characters, this one has %d: %s", MaxEmailLocalBytes, len(local), quote(s))
	}
	if !validDomain(domain) {
		return notEmail(s)
	}
	if simpleLocal(local) {
		// The common case is decided without net/mail, which allocates a
		// lot for each address of a million-row import. simpleLocal only
		// accepts dot-atoms of characters net/mail accepts too.
		return nil
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return notEmail(s)
	}
	addr, err := mail.ParseAddress(s)
	// Only a bare address is accepted: "Bob <bob@example.com>" parses, but
	// it is not what belongs in an e-mail field.
	if err != nil || addr.Name != "" || addr.Address != s {
		return notEmail(s)
	}
	return nil
}

func notEmail(s string) error {
	return invalid("%s is not an e-mail address such as name@example.com", quote(s))
}

// simpleLocal reports whether local is a dot-atom of ASCII letters, digits
// and the usual punctuation: no leading, trailing or doubled dots.
func simpleLocal(local string) bool {
	if local == "" || local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validDomain reports whether domain is a host name of at least two labels
// (ASCII letters, digits, hyphens, or non-ASCII letters for international
// domains), none empty, none starting or ending with a hyphen.
func validDomain(domain string) bool {
	if !strings.Contains(domain, ".") || !utf8.ValidString(domain) {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
			case c > utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsMark(c)):
			default:
				return false
			}
		}
	}
	return true
}
