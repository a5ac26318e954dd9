package importer

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"audiencebridge/identity"
)

// fuzzSeeds are realistic files; testdata/fuzz holds them too, so that
// `go test` alone replays them.
var fuzzSeeds = []string{
	"email,firstName,lastName,crmId,visitorId\nbob@example.com,Bob,Smith,CUST-1," + ecid + "\n",
	"E-Mail;Vorname;Nachname\r\nanna@beispiel.de;Anna;Müller\r\n",
	"\ufeffemail\tfirstName\na@example.com\tAnn\n",
	"email,note\na@example.com,\"one\ntwo\"\"\"\n",
	"email,firstName\na@example.com,\"never closed\nb@example.com,Bo\n",
	"bob@example.com,Bob\n",
}

func FuzzReader(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add([]byte(s), byte(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, d byte) {
		delim := Delimiters[int(d)%len(Delimiters)]
		m := fuzzMapping(data, delim)
		rd := NewReader(bytes.NewReader(data), delim, m)
		last := int64(0)
		for {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			if row.Line <= last {
				t.Fatalf("line %d after line %d", row.Line, last)
			}
			last = row.Line
			for _, f := range append(row.Fields, rd.Header()...) {
				if !utf8.ValidString(f) || strings.IndexByte(f, 0) >= 0 {
					t.Fatalf("line %d: a cell cannot be stored as text: %q", row.Line, f)
				}
			}
			if row.Problem == "" {
				checkGoodRow(t, row, len(rd.Header()))
			}
		}
	})
}

// fuzzMapping maps the header of data as a caller would: AutoMap, or
// e-mail in the first column when it finds none.
func fuzzMapping(data []byte, delim rune) Mapping {
	p := newParser(bytes.NewReader(data), byte(delim))
	p.skipBOM()
	rec, err := p.read()
	if err != nil || rec.unreadable() {
		return Mapping{Email}
	}
	m := AutoMap(rec.fields)
	if m.Validate() != nil {
		m = make(Mapping, len(rec.fields))
		m[0] = Email
	}
	return m
}

// checkGoodRow fails unless row passes every rule of a good row.
func checkGoodRow(t *testing.T, row Row, fields int) {
	t.Helper()
	if len(row.Fields) != fields {
		t.Fatalf("line %d: %d fields, the header has %d", row.Line, len(row.Fields), fields)
	}
	if err := identity.ValidateEmail(row.Email); err != nil || row.Email != strings.ToLower(row.Email) {
		t.Fatalf("line %d: e-mail %q accepted: %v", row.Line, row.Email, err)
	}
	for _, v := range []string{row.FirstName, row.LastName, row.CRMID, row.VisitorID} {
		if v != strings.TrimSpace(v) {
			t.Fatalf("line %d: %q is not trimmed", row.Line, v)
		}
	}
	if utf8.RuneCountInString(row.FirstName) > MaxNameChars || utf8.RuneCountInString(row.LastName) > MaxNameChars {
		t.Fatalf("line %d: a name is too long", row.Line)
	}
	if row.CRMID != "" && identity.ValidateDeclaredID(row.CRMID) != nil {
		t.Fatalf("line %d: CRM ID %q accepted", row.Line, row.CRMID)
	}
	if row.VisitorID != "" && identity.ValidateECID(row.VisitorID) != nil {
		t.Fatalf("line %d: visitor ID %q accepted", row.Line, row.VisitorID)
	}
}

func FuzzSniff(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		const maxRows = 5
		p, err := Sniff(head, maxRows)
		if err != nil {
			return
		}
		if !strings.ContainsRune(string(Delimiters), p.Delimiter) {
			t.Fatalf("delimiter %q", p.Delimiter)
		}
		if len(p.Header) == 0 || len(p.Mapping) != len(p.Header) || len(p.Rows) > maxRows {
			t.Fatalf("preview %+v", p)
		}
		// AutoMap never maps a field twice, so only a missing e-mail
		// column can make the mapping invalid.
		if err := p.Mapping.Validate(); err != nil && p.Mapping.index(Email) >= 0 {
			t.Fatalf("mapping %q: %v", p.Mapping, err)
		}
		for _, w := range p.Warnings {
			if w == "" || !strings.HasSuffix(w, ".") {
				t.Fatalf("warning %q is not a sentence", w)
			}
		}
	})
}
