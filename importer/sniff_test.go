package importer

import (
	"slices"
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		delim    rune
		header   []string
		rows     int
		mapping  Mapping
		warnings []string // each a substring of one warning, in order
	}{
		{"comma", "email,firstName,lastName\na@example.com,Ann,Lee\nb@example.com,Bo,Li\n", ',',
			[]string{"email", "firstName", "lastName"}, 2, Mapping{Email, FirstName, LastName}, nil},
		{"semicolon with commas in values", "E-Mail;Last Name\na@example.com;Lee, Jr.\nb@example.com;Li\n", ';',
			[]string{"E-Mail", "Last Name"}, 2, Mapping{Email, LastName}, nil},
		{"tab", "email\tfirstName\na@example.com\tAnn, Marie\n", '\t',
			[]string{"email", "firstName"}, 1, Mapping{Email, FirstName}, nil},
		{"pipe", "email|ecid\na@example.com|" + ecid + "\n", '|',
			[]string{"email", "ecid"}, 1, Mapping{Email, VisitorID}, nil},
		{"BOM and CRLF", "\ufeffemail,firstName\r\na@example.com,Ann\r\n", ',',
			[]string{"email", "firstName"}, 1, Mapping{Email, FirstName}, nil},
		{"quoted with line breaks", "email,note\na@example.com,\"one\ntwo; three\"\nb@example.com,x\n", ',',
			[]string{"email", "note"}, 2, Mapping{Email, Ignore}, []string{`Column "note" is not imported`}},
		{"maxRows", "email\na@example.com\nb@example.com\nc@example.com\nd@example.com\n", ',',
			[]string{"email"}, 3, Mapping{Email}, nil},
		{"header only, no line break", "email,crmId", ',',
			[]string{"email", "crmId"}, 0, Mapping{Email, CRMID}, nil},
		{"last line kept when the head is the whole file", "email\na@example.com", ',',
			[]string{"email"}, 1, Mapping{Email}, nil},
		{"header looks like data", "bob@example.com,Bob,Smith\nann@example.com,Ann,Lee\n", ',',
			[]string{"bob@example.com", "Bob", "Smith"}, 1, Mapping{Ignore, Ignore, Ignore},
			[]string{"The first line looks like data, not column names: add a header line such as email,firstName,lastName."}},
		{"header of visitor IDs", ecid + ";x\n" + ecid2 + ";y\n", ';',
			[]string{ecid, "x"}, 1, Mapping{Ignore, Ignore}, []string{"add a header line such as email;firstName;lastName."}},
		{"only one column", "email:name\na@example.com:Ann\n", ',',
			[]string{"email:name"}, 1, Mapping{Ignore},
			[]string{"Only one column was found: check the delimiter.", `Column "email:name" is not imported`, "No column holds e-mail addresses"}},
		{"unmapped and duplicate columns", "email,phone,E-mail,,name\na@example.com,1,b@example.com,,Ann\n", ',',
			[]string{"email", "phone", "E-mail", "", "name"}, 1, Mapping{Email, Ignore, Ignore, Ignore, Ignore},
			[]string{`Column "phone" is not imported`, `Column "E-mail" is not imported: column "email" is already imported as E-mail.`,
				"Column 4 has no name", `Column "name" is not imported`}},
		{"no email column", "firstName,lastName\nAnn,Lee\n", ',',
			[]string{"firstName", "lastName"}, 1, Mapping{FirstName, LastName},
			[]string{`No column holds e-mail addresses: name one column "email" or choose E-mail for it.`}},
		{"unclosed quote", "email,firstName\na@example.com,\"Ann\nb@example.com,Bo\n", ',',
			[]string{"email", "firstName"}, 0, Mapping{Email, FirstName},
			[]string{"A quote opened on line 2 is never closed"}},
		{"ragged rows still find the delimiter", "email;name\na@example.com;Ann\nb@example.com\nc@example.com;Cy\n", ';',
			[]string{"email", "name"}, 3, Mapping{Email, Ignore}, []string{`Column "name"`}},
		{"invalid UTF-8 in a row is only previewed", "email,lastName\na@example.com,M\xfcller\n", ',',
			[]string{"email", "lastName"}, 1, Mapping{Email, LastName}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Sniff([]byte(tt.head), 3)
			if err != nil {
				t.Fatal(err)
			}
			if p.Delimiter != tt.delim {
				t.Errorf("Delimiter = %q, want %q", p.Delimiter, tt.delim)
			}
			if !slices.Equal(p.Header, tt.header) {
				t.Errorf("Header = %q, want %q", p.Header, tt.header)
			}
			if len(p.Rows) != tt.rows {
				t.Errorf("got %d rows, want %d: %q", len(p.Rows), tt.rows, p.Rows)
			}
			if !slices.Equal(p.Mapping, tt.mapping) {
				t.Errorf("Mapping = %q, want %q", p.Mapping, tt.mapping)
			}
			if len(p.Warnings) != len(tt.warnings) {
				t.Fatalf("Warnings = %q, want %q", p.Warnings, tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(p.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, p.Warnings[i], w)
				}
			}
		})
	}
}

// TestSniffCutHead checks that a head of SniffBytes leaves out its last,
// cut line.
func TestSniffCutHead(t *testing.T) {
	var b strings.Builder
	b.WriteString("email,firstName\n")
	for b.Len() < SniffBytes+100 {
		b.WriteString("someone@example.com,Someone\n")
	}
	head := b.String()[:SniffBytes]
	p, err := Sniff([]byte(head), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Count(head, "\n") - 1
	if len(p.Rows) != want {
		t.Errorf("got %d rows, want %d", len(p.Rows), want)
	}
	for _, r := range p.Rows {
		if len(r) != 2 || r[1] != "Someone" {
			t.Fatalf("a cut row was previewed: %q", r)
		}
	}
	// A quote still open at the cut is not a warning: the file goes on.
	cut := "email,note\na@example.com,\"" + strings.Repeat("x", SniffBytes)
	p, err = Sniff([]byte(cut[:SniffBytes]), 5)
	if err != nil || len(p.Warnings) != 1 || len(p.Rows) != 0 {
		t.Errorf("Sniff = %q, %v", p.Warnings, err)
	}
}

func TestSniffErrors(t *testing.T) {
	tests := []struct {
		name, head, wantErr string
	}{
		{"empty", "", "the file is empty"},
		{"blank", " \r\n\n", "the file is empty"},
		{"BOM only", "\ufeff", "the file is empty"},
		{"UTF-16", "\xff\xfee\x00m\x00", "UTF-16"},
		{"header not UTF-8", "e\xe9mail,nom\na@example.com,x\n", "the header line is not UTF-8 text"},
		{"header never closed", "\"email,x\na,b\n", "a quote opened on line 1 is never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sniff([]byte(tt.head), 5)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func BenchmarkSniff(b *testing.B) {
	head := genCSV(2000)[:SniffBytes]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sniff(head, 20); err != nil {
			b.Fatal(err)
		}
	}
}
