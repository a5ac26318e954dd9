package importer

import (
	"slices"
	"strings"
	"testing"
)

func TestAutoMap(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		want   Mapping
	}{
		{"the documented names", []string{"email", "firstName", "lastName", "crmId", "visitorId"},
			Mapping{Email, FirstName, LastName, CRMID, VisitorID}},
		{"case, spaces and punctuation ignored", []string{" E-Mail ", "First_Name", "LAST NAME", "Customer.No", "experience-cloud-id"},
			Mapping{Email, FirstName, LastName, CRMID, VisitorID}},
		{"aliases", []string{"Email Address", "given name", "surname", "declared_id", "ECID"},
			Mapping{Email, FirstName, LastName, CRMID, VisitorID}},
		{"more aliases", []string{"mail", "prenom", "family-name", "customerId", "MCID"},
			Mapping{Email, FirstName, LastName, CRMID, VisitorID}},
		{"unknown and name stay unmapped", []string{"phone", "email", "name", ""},
			Mapping{Ignore, Email, Ignore, Ignore}},
		{"a duplicate is left unmapped", []string{"email", "E-mail", "first", "firstname"},
			Mapping{Email, Ignore, FirstName, Ignore}},
		{"empty header", nil, Mapping{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AutoMap(tt.header); !slices.Equal(got, tt.want) {
				t.Errorf("AutoMap(%q) = %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestMappingValidate(t *testing.T) {
	tests := []struct {
		name    string
		m       Mapping
		wantErr string
	}{
		{"email only", Mapping{Email}, ""},
		{"all fields", Mapping{Ignore, Email, FirstName, LastName, CRMID, VisitorID, Ignore}, ""},
		{"no email", Mapping{FirstName, Ignore}, "no column is imported as E-mail"},
		{"empty", nil, "no column is imported as E-mail"},
		{"email twice", Mapping{Email, FirstName, Email}, "E-mail is chosen for columns 1 and 3"},
		{"visitor ID twice", Mapping{Email, VisitorID, VisitorID}, "Visitor ID (ECID) is chosen for columns 2 and 3"},
		{"unknown field", Mapping{Email, "phone"}, `column 2 is mapped to "phone"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.m.Validate(), tt.wantErr)
		})
	}
}

func TestColumnLabel(t *testing.T) {
	want := []string{"E-mail", "First name", "Last name", "CRM ID", "Visitor ID (ECID)"}
	for i, c := range Columns {
		if got := c.Label(); got != want[i] {
			t.Errorf("%q.Label() = %q, want %q", c, got, want[i])
		}
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
