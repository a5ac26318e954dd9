package identity

import (
	"errors"
	"net/mail"
	"slices"
	"strings"
	"testing"
)

const goodECID = "07955261652886032950143702505894272138"

// The hashes below were computed outside Go, with
// printf %s 'user@example.com' | sha256sum, so that a bug in SHA256Hex
// cannot hide behind a test that computes its expectation the same way.
const (
	hashUserExample = "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514" // user@example.com
	hashEmpty       = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // ""
	hashCust42      = "8a3c5a67cad508582b5edf6b8352cea3ffbad7f44812c1a736b4444c0f5746aa" // cust-42
	hashMuller      = "eb2f85748266705ba113bc5c4ee633d9c2a7cc769d5f6d9f9767b854584b3c88" // müller@example.de
	hash12345       = "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5" // 12345
	hashOfHash      = "043e3ef5e76e423c9d3d3a5605bcb8904496c654fcd16180386298150d8e1b8f" // hashUserExample
)

func TestSHA256Hex(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user@example.com", hashUserExample},
		{"  User@Example.COM ", hashUserExample},
		{"\tUSER@EXAMPLE.COM\r\n", hashUserExample},
		{"", hashEmpty},
		{"CUST-42", hashCust42},
		{"Müller@Example.de", hashMuller},
		{"12345", hash12345},
	}
	for _, tt := range tests {
		if got := SHA256Hex(tt.in); got != tt.want {
			t.Errorf("SHA256Hex(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  User@Example.COM ", "user@example.com"},
		{"CUST-42", "cust-42"},
		{"ÄÖÜ", "äöü"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidateECID(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string // a substring of the error, "" for valid
	}{
		{"38 digits", goodECID, ""},
		{"all zeros", strings.Repeat("0", 38), ""},
		{"37 digits", goodECID[:37], "has 38 digits, this one has 37"},
		{"39 digits", goodECID + "1", "has 38 digits, this one has 39"},
		{"12 digits", "123456789012", `this one has 12: "123456789012"`},
		{"empty", "", "is empty"},
		{"letter", goodECID[:37] + "a", `contains 'a'`},
		{"arabic-indic digit", goodECID[:37] + "٠", `contains '٠'`},
		{"fullwidth digit", goodECID[:37] + "１", `contains '１'`},
		{"space before", " " + goodECID, "other characters"},
		{"space after", goodECID + " ", "other characters"},
		{"minus", "-" + goodECID[1:], `contains '-'`},
		{"invalid UTF-8", goodECID[:37] + "\xff", "other characters"},
		{"long value is cut", strings.Repeat("1", 100), `"` + strings.Repeat("1", 40) + `…"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateECID(tt.in)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestValidateDeclaredID(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  string
	}{
		{"customer number", "CUST-42", ""},
		{"e-mail address", "bob@example.com", ""},
		{"unicode", "Müller-Lüdenscheidt", ""},
		{"spaces around are trimmed later", "  CUST-42 ", ""},
		{"255 bytes", strings.Repeat("x", 255), ""},
		{"256 bytes", strings.Repeat("x", 256), "at most 255 bytes, this one has 256"},
		{"255 bytes of 2-byte runes", strings.Repeat("é", 127) + "x", ""},
		{"256 bytes of 2-byte runes", strings.Repeat("é", 128), "this one has 256"},
		{"colon", "AdobeCampaignID:42", `must not contain ":": "AdobeCampaignID:42"`},
		{"empty", "", "is empty"},
		{"blank", " \t ", "is empty"},
		{"tab inside", "a\tb", "control characters"},
		{"line break inside", "a\nb", "control characters"},
		{"NUL", "a\x00b", `control characters such as tabs or line breaks: "a\x00b"`},
		{"DEL", "a\x7fb", "control characters"},
		{"C1 control", "a\u0085b", "control characters"},
		{"invalid UTF-8", "ab\xffcd", `UTF-8 text, this one is not: "ab\xffcd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, ValidateDeclaredID(tt.in), tt.wantErr)
		})
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"bob@example.com", ""},
		{"Bob.Smith+news@mail.example.co.uk", ""},
		{"o'neil@example.ie", ""},
		{"müller@example.de", ""},
		{"bob@bücher.example", ""},
		{"bob@", `"bob@" is not an e-mail address such as name@example.com`},
		{"@example.com", "is not an e-mail address"},
		{"bob", "is not an e-mail address"},
		{"bob@localhost", "is not an e-mail address"},
		{"bob@@example.com", "is not an e-mail address"},
		{"bob@exa@mple.com", "is not an e-mail address"},
		{"bob smith@example.com", "is not an e-mail address"},
		{" bob@example.com", "is not an e-mail address"},
		{"bob@example.com ", "is not an e-mail address"},
		{"bob.@example.com", "is not an e-mail address"},
		{".bob@example.com", "is not an e-mail address"},
		{"bo..b@example.com", "is not an e-mail address"},
		{"bob@example..com", "is not an e-mail address"},
		{"bob@.example.com", "is not an e-mail address"},
		{"bob@example.com.", "is not an e-mail address"},
		{"bob@-example.com", "is not an e-mail address"},
		{"bob@exam_ple.com", "is not an e-mail address"},
		{"bob@[192.0.2.1]", "is not an e-mail address"},
		{"Bob <bob@example.com>", "is not an e-mail address"},
		{`"bob"@example.com`, "is not an e-mail address"},
		{"bob@example.com (Bob)", "is not an e-mail address"},
		{"bob\x00@example.com", "is not an e-mail address"},
		{"bob\xff@example.com", "is not an e-mail address"},
		{strings.Repeat("a", 64) + "@example.com", ""},
		{strings.Repeat("a", 65) + "@example.com", "at most 64 characters, this one has 65"},
		{"a@" + strings.Repeat("b", 248) + ".com", ""},
		{"a@" + strings.Repeat("b", 249) + ".com", "at most 254 characters, this one has 255"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkErr(t, ValidateEmail(tt.in), tt.wantErr)
		})
	}
}

// TestValidateEmailFastPath checks that the shortcut for plain ASCII
// addresses agrees with net/mail, which decides every other address.
func TestValidateEmailFastPath(t *testing.T) {
	for _, s := range []string{
		"bob@example.com", "a.b.c@example.com", "x!#$%&'*+-/=?^_`{|}~y@example.com",
		"1@2.3", "UPPER@EXAMPLE.COM",
	} {
		if err := ValidateEmail(s); err != nil {
			t.Errorf("ValidateEmail(%q) = %v", s, err)
		}
		addr, err := mail.ParseAddress(s)
		if err != nil || addr.Address != s {
			t.Errorf("net/mail disagrees about %q: %v", s, err)
		}
	}
}

func TestErrorsAreErrInvalid(t *testing.T) {
	for _, err := range []error{ValidateECID("1"), ValidateDeclaredID("a:b"), ValidateEmail("bob@")} {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%v is not ErrInvalid", err)
		}
	}
}

func TestRuleValidate(t *testing.T) {
	tests := []struct {
		rule    Rule
		wantErr string
	}{
		{Rule{VisitorID, KeyVisitorID, HashNone}, ""},
		{Rule{DeclaredID, KeyCRMID, HashNone}, ""},
		{Rule{DeclaredID, KeyEmail, HashSHA256}, ""},
		{Rule{DeclaredID, KeyID, HashSHA256}, ""},
		{Rule{VisitorID, KeyEmail, HashNone}, `key "email" cannot be used with the ID type "visitorId": use one of "visitorId"`},
		{Rule{DeclaredID, KeyVisitorID, HashNone}, `use one of "crmId", "email", "id"`},
		{Rule{VisitorID, KeyVisitorID, HashSHA256}, "only declared IDs can be hashed"},
		{Rule{DeclaredID, KeyCRMID, "md5"}, `unknown hash algorithm "md5"`},
		{Rule{DeclaredID, KeyCRMID, ""}, `unknown hash algorithm ""`},
		{Rule{"cookie", KeyCRMID, HashNone}, `unknown ID type "cookie"`},
		{Rule{DeclaredID, "phone", HashNone}, `key "phone" cannot be used`},
	}
	for _, tt := range tests {
		checkErr(t, tt.rule.Validate(), tt.wantErr)
	}
}

func TestRuleIdentifier(t *testing.T) {
	visitor := Rule{VisitorID, KeyVisitorID, HashNone}
	crm := Rule{DeclaredID, KeyCRMID, HashNone}
	hashed := Rule{DeclaredID, KeyEmail, HashSHA256}
	tests := []struct {
		name    string
		rule    Rule
		in      string
		want    string
		wantOK  bool
		wantErr string
	}{
		{"visitor ID", visitor, goodECID, goodECID, true, ""},
		{"visitor ID trimmed", visitor, "  " + goodECID + "\n", goodECID, true, ""},
		{"visitor ID blank", visitor, "  ", "", false, ""},
		{"visitor ID invalid", visitor, "123", "", false, "this one has 3"},
		{"declared ID keeps case", crm, " CUST-42 ", "CUST-42", true, ""},
		{"declared ID with colon", crm, "a:b", "", false, `must not contain ":"`},
		{"declared ID blank", crm, "", "", false, ""},
		{"hashed", hashed, "  User@Example.COM ", hashUserExample, true, ""},
		{"hashed is hashed again", hashed, hashUserExample, hashOfHash, true, ""},
		{"hashed invalid", hashed, "a:b", "", false, `must not contain ":"`},
		{"unknown type", Rule{IDType: "cookie"}, "x", "", false, "unknown ID type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := tt.rule.Identifier(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Identifier(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestRuleMemberValue(t *testing.T) {
	visitor := Rule{VisitorID, KeyVisitorID, HashNone}
	crm := Rule{DeclaredID, KeyCRMID, HashNone}
	hashed := Rule{DeclaredID, KeyCRMID, HashSHA256}
	tests := []struct {
		name    string
		rule    Rule
		in      string
		want    string
		wantErr string
	}{
		{"visitor ID", visitor, goodECID + "\r", goodECID, ""},
		{"visitor ID invalid", visitor, "abc", "", "contains 'a'"},
		{"declared ID", crm, "CUST-42", "CUST-42", ""},
		{"hash kept", hashed, hashCust42, hashCust42, ""},
		{"hash lower-cased", hashed, " " + strings.ToUpper(hashCust42) + " ", hashCust42, ""},
		{"plain value refused", hashed, "CUST-42", "", "64 hexadecimal characters"},
		{"63 characters", hashed, hashCust42[:63], "", "64 hexadecimal characters"},
		{"not hex", hashed, strings.Repeat("g", 64), "", "64 hexadecimal characters"},
		{"blank", hashed, " ", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rule.MemberValue(tt.in)
			checkErr(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("MemberValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestImportMatchesExport is the reason the rules live here: what an export
// sends for a recipient is what the import reconciles with.
func TestImportMatchesExport(t *testing.T) {
	rule := Rule{DeclaredID, KeyEmail, HashSHA256}
	sent := rule.ForRecipient(Recipient{ID: 1, Email: "User@Example.com"})
	if len(sent) != 1 {
		t.Fatalf("ForRecipient = %v", sent)
	}
	got, err := rule.MemberValue(sent[0])
	if err != nil || got != hashUserExample {
		t.Errorf("MemberValue(%q) = %q, %v, want %q", sent[0], got, err, hashUserExample)
	}
}

func TestRuleForRecipient(t *testing.T) {
	other := "12345678901234567890123456789012345678"
	rec := Recipient{
		ID:         12345,
		Email:      "User@Example.com",
		CRMID:      " CUST-42 ",
		VisitorIDs: []string{goodECID, "bad", " " + goodECID, other, ""},
	}
	tests := []struct {
		name string
		rule Rule
		rec  Recipient
		want []string
	}{
		{"visitor IDs: valid, trimmed, no duplicates", Rule{VisitorID, KeyVisitorID, HashNone}, rec, []string{goodECID, other}},
		{"CRM ID", Rule{DeclaredID, KeyCRMID, HashNone}, rec, []string{"CUST-42"}},
		{"CRM ID hashed", Rule{DeclaredID, KeyCRMID, HashSHA256}, rec, []string{hashCust42}},
		{"e-mail hashed", Rule{DeclaredID, KeyEmail, HashSHA256}, rec, []string{hashUserExample}},
		{"e-mail plain", Rule{DeclaredID, KeyEmail, HashNone}, rec, []string{"User@Example.com"}},
		{"id", Rule{DeclaredID, KeyID, HashNone}, rec, []string{"12345"}},
		{"id hashed", Rule{DeclaredID, KeyID, HashSHA256}, rec, []string{hash12345}},
		{"unsaved recipient has no id", Rule{DeclaredID, KeyID, HashNone}, Recipient{Email: "a@example.com"}, nil},
		{"no CRM ID", Rule{DeclaredID, KeyCRMID, HashNone}, Recipient{ID: 1}, nil},
		{"invalid CRM ID", Rule{DeclaredID, KeyCRMID, HashNone}, Recipient{ID: 1, CRMID: "a:b"}, nil},
		{"no visitor IDs", Rule{VisitorID, KeyVisitorID, HashNone}, Recipient{ID: 1}, nil},
		{"invalid rule", Rule{DeclaredID, KeyVisitorID, HashNone}, rec, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rule.ForRecipient(tt.rec); !slices.Equal(got, tt.want) {
				t.Errorf("ForRecipient = %q, want %q", got, tt.want)
			}
		})
	}
}

// checkErr fails unless err is nil and want is "", or err contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}
