package identity

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzValidateECID(f *testing.F) {
	for _, s := range []string{goodECID, goodECID[:37], goodECID + "0", " " + goodECID, goodECID[:37] + "٠", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateECID(s) != nil {
			return
		}
		if len(s) != ECIDLength {
			t.Fatalf("accepted %q of %d bytes", s, len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				t.Fatalf("accepted %q with %q at %d", s, s[i], i)
			}
		}
	})
}

func FuzzValidateDeclaredID(f *testing.F) {
	for _, s := range []string{"CUST-42", "a:b", " ", strings.Repeat("x", 256), "a\tb", "\xffab", "Müller"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateDeclaredID(s) != nil {
			return
		}
		switch {
		case !utf8.ValidString(s), len(s) > MaxDeclaredIDBytes, strings.TrimSpace(s) == "",
			strings.Contains(s, ":"), strings.IndexFunc(s, unicode.IsControl) >= 0:
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"bob@example.com", "bob@", "Bob <bob@example.com>", "müller@bücher.de", `"a"@b.c`, "a..b@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateEmail(s) != nil {
			return
		}
		// Whatever is accepted, fast path or not, net/mail reads as exactly
		// this bare address.
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Name != "" || addr.Address != s {
			t.Fatalf("accepted %q that net/mail reads as %v, %v", s, addr, err)
		}
		if len(s) > MaxEmailBytes || strings.IndexFunc(s, unicode.IsSpace) >= 0 || !strings.Contains(s[strings.IndexByte(s, '@'):], ".") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzRuleIdentifier(f *testing.F) {
	for _, s := range []string{goodECID, " " + goodECID + " ", "CUST-42", "  User@Example.COM ", "a:b", "", "\xff", hashUserExample} {
		f.Add(s)
	}
	rules := []Rule{
		{VisitorID, KeyVisitorID, HashNone},
		{DeclaredID, KeyCRMID, HashNone},
		{DeclaredID, KeyEmail, HashSHA256},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, r := range rules {
			id, ok, err := r.Identifier(raw)
			if err != nil || !ok {
				if id != "" || (err != nil && ok) {
					t.Fatalf("%v: Identifier(%q) = %q, %v, %v", r, raw, id, ok, err)
				}
				continue
			}
			if r.Hash == HashSHA256 {
				if !isSHA256Hex(id) {
					t.Fatalf("%v: Identifier(%q) = %q is not 64 lower-case hex", r, raw, id)
				}
				if got, err := r.MemberValue(id); err != nil || got != id {
					t.Fatalf("%v: MemberValue(%q) = %q, %v", r, id, got, err)
				}
				continue
			}
			again, ok2, err := r.Identifier(id)
			if again != id || !ok2 || err != nil {
				t.Fatalf("%v: Identifier is not idempotent: %q -> %q -> %q, %v, %v", r, raw, id, again, ok2, err)
			}
			if r.IDType == VisitorID && ValidateECID(id) != nil {
				t.Fatalf("%v: Identifier(%q) = %q, an invalid ECID", r, raw, id)
			}
		}
	})
}
