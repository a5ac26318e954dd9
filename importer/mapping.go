// Package importer reads recipients from CSV files: it previews the first
// bytes of a file (delimiter, header, a few rows, warnings), maps header
// columns to recipient fields and streams the rows of files of millions of
// lines in bounded memory, checking each row. It does not touch the
// database: the caller stores good rows and records rejected ones.
package importer

import (
	"fmt"
	"strings"
)

// Column is the recipient field a CSV column is imported into.
type Column string

// The recipient fields a CSV column can be mapped to.
const (
	Email     Column = "email"
	FirstName Column = "firstName"
	LastName  Column = "lastName"
	CRMID     Column = "crmId"
	VisitorID Column = "visitorId"
	Ignore    Column = "" // the column is not imported
)

// Columns lists the fields a column can be mapped to, in the order a form
// offers them.
var Columns = []Column{Email, FirstName, LastName, CRMID, VisitorID}

// Label is the field's name as a marketer reads it.
func (c Column) Label() string {
	switch c {
	case Email:
		return "E-mail"
	case FirstName:
		return "First name"
	case LastName:
		return "Last name"
	case CRMID:
		return "CRM ID"
	case VisitorID:
		return "Visitor ID (ECID)"
	case Ignore:
		return "Not imported"
	}
	return string(c)
}

// known reports whether c is Ignore or one of Columns.
func (c Column) known() bool {
	switch c {
	case Ignore, Email, FirstName, LastName, CRMID, VisitorID:
		return true
	}
	return false
}

// Mapping says, for each column of the header in order, which field it is
// imported into (Ignore for a column that is not imported).
type Mapping []Column

// Validate reports whether the mapping can be imported: E-mail chosen for
// exactly one column, every other field for at most one.
func (m Mapping) Validate() error {
	first := make(map[Column]int, len(Columns))
	for i, c := range m {
		if !c.known() {
			return fmt.Errorf("column %d is mapped to %q, which is not a recipient field", i+1, string(c))
		}
		if c == Ignore {
			continue
		}
		if j, dup := first[c]; dup {
			return fmt.Errorf("%s is chosen for columns %d and %d: choose it for one column only", c.Label(), j+1, i+1)
		}
		first[c] = i
	}
	if _, ok := first[Email]; !ok {
		return fmt.Errorf("no column is imported as %s: choose the column that holds the e-mail addresses", Email.Label())
	}
	return nil
}

// index returns the position of c in the mapping, or -1.
func (m Mapping) index(c Column) int {
	for i, mc := range m {
		if mc == c {
			return i
		}
	}
	return -1
}

// aliases are the header names AutoMap recognises, in headerKey form.
var aliases = map[string]Column{
	"email": Email, "mail": Email, "emailaddress": Email, "mailaddress": Email,
	"firstname": FirstName, "first": FirstName, "givenname": FirstName, "prenom": FirstName, "prénom": FirstName,
	"lastname": LastName, "last": LastName, "surname": LastName, "familyname": LastName,
	"crmid": CRMID, "customerid": CRMID, "customerno": CRMID, "declaredid": CRMID,
	"visitorid": VisitorID, "ecid": VisitorID, "mcid": VisitorID, "experiencecloudid": VisitorID,
}

// headerKey is a header name with case, spaces, "_", "-" and "." ignored,
// so "E-Mail", "e_mail" and "Email Address" find their alias.
func headerKey(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '_', '-', '.':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(name)))
}

// lookup returns the field a header name stands for, or Ignore.
func lookup(name string) Column {
	return aliases[headerKey(name)]
}

// AutoMap proposes a mapping for a header by recognising the usual column
// names. A column whose field is already taken by an earlier column is not
// imported, so the result always passes Validate when some column is
// recognised as the e-mail address.
func AutoMap(header []string) Mapping {
	m := make(Mapping, len(header))
	taken := make(map[Column]bool, len(Columns))
	for i, name := range header {
		c := lookup(name)
		if c == Ignore || taken[c] {
			continue
		}
		m[i] = c
		taken[c] = true
	}
	return m
}
