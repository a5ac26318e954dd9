package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SniffBytes is how much of the start of a file Sniff looks at. A shorter
// head is taken to be the whole file; from a head of SniffBytes or more, an
// unfinished last line is left out, as it may be cut.
const SniffBytes = 64 << 10

// Delimiters are the delimiters Sniff recognises, in order of preference.
var Delimiters = []rune{',', ';', '\t', '|'}

// sniffRecords is how many records the delimiter is judged on.
const sniffRecords = 20

// Preview is what the start of a file says about it: the delimiter, the
// header, the first rows, a proposed mapping and warnings, each a sentence
// that says what to do.
type Preview struct {
	Delimiter rune
	Header    []string
	Rows      [][]string
	Mapping   Mapping
	Warnings  []string
}

// Sniff previews a CSV file from its first bytes (see SniffBytes): it
// finds the delimiter among Delimiters (the one that splits the first lines
// into the same number of fields, more than one; ',' when none does), skips
// a UTF-8 byte order mark, reads the header and up to maxRows rows, and
// proposes a mapping with AutoMap. It fails only when no preview is
// possible: an empty file, or a header line that is not UTF-8 text.
func Sniff(head []byte, maxRows int) (Preview, error) { return sniffAs(head, maxRows, 0) }

// sniffAs is Sniff with a given delimiter, or the detected one when 0.
func sniffAs(head []byte, maxRows int, delimiter rune) (Preview, error) {
	whole := len(head) < SniffBytes
	maxRows = max(maxRows, 0)
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return Preview{}, errors.New("the file is saved as UTF-16: save it as CSV UTF-8 and import it again")
	}
	head = bytes.TrimPrefix(head, bom)
	if len(bytes.TrimSpace(head)) == 0 {
		return Preview{}, errors.New("the file is empty: it needs a header line and one line per recipient")
	}
	if delimiter == 0 {
		delimiter = sniffDelimiter(head, whole)
	}
	p := Preview{Delimiter: delimiter}
	recs, err := sniffRead(head, byte(p.Delimiter), whole, maxRows+1)
	if err != nil {
		return Preview{}, err
	}
	if len(recs) == 0 {
		return Preview{}, errors.New("the file is empty: it needs a header line and one line per recipient")
	}
	hdr := recs[0]
	if hdr.unreadable() {
		return Preview{}, errors.New("the header line cannot be read: " + whyUnreadable(hdr))
	}
	if hdr.hasNUL {
		// Text with a NUL in every other byte is UTF-16 without its byte order mark.
		return Preview{}, errors.New("the file looks saved as UTF-16 (its header holds NUL bytes): save it as CSV UTF-8 and import it again")
	}
	if !hdr.validUTF8 {
		return Preview{}, errors.New("the header line is not UTF-8 text: save the file as CSV UTF-8 and import it again")
	}
	p.Header = make([]string, len(hdr.fields))
	for i, f := range hdr.fields {
		p.Header[i] = strings.TrimSpace(f)
	}
	p.Mapping = AutoMap(p.Header)
	for _, rec := range recs[1:] {
		if rec.unreadable() {
			if rec.unclosed {
				p.Warnings = append(p.Warnings, fmt.Sprintf("A quote opened on line %d is never closed: close it, or the lines from there on cannot be imported.", rec.quoteLine))
			}
			continue
		}
		if len(p.Rows) < maxRows {
			p.Rows = append(p.Rows, rec.fields)
		}
	}
	p.Warnings = append(headerWarnings(p), p.Warnings...)
	return p, nil
}

// headerWarnings says what looks wrong with the header and its mapping.
func headerWarnings(p Preview) []string {
	var w []string
	if looksLikeData(p.Header) {
		example := strings.Join([]string{"email", "firstName", "lastName"}, string(p.Delimiter))
		if p.Delimiter == '\t' {
			example = "email, firstName and lastName separated by tabs"
		}
		// The unmapped-column warnings would only repeat the data.
		return append(w, "The first line looks like data, not column names: add a header line such as "+example+".")
	}
	if len(p.Header) == 1 && p.Mapping[0] == Ignore {
		w = append(w, "Only one column was found: check the delimiter.")
	}
	for i, name := range p.Header {
		if p.Mapping[i] != Ignore {
			continue
		}
		switch c := lookup(name); {
		case name == "":
			w = append(w, fmt.Sprintf("Column %d has no name and is not imported: name it if it should be.", i+1))
		case c != Ignore:
			first := p.Header[p.Mapping.index(c)]
			w = append(w, fmt.Sprintf("Column %q is not imported: column %q is already imported as %s.", name, first, c.Label()))
		default:
			w = append(w, fmt.Sprintf("Column %q is not imported: choose a field for it if it should be.", name))
		}
	}
	if p.Mapping.index(Email) < 0 {
		w = append(w, fmt.Sprintf("No column holds e-mail addresses: name one column %q or choose %s for it.", Email, Email.Label()))
	}
	return w
}

// looksLikeData reports whether header cells look like values rather than
// names: an e-mail address or a visitor ID.
func looksLikeData(header []string) bool {
	for _, h := range header {
		if strings.Contains(h, "@") || isECID(h) {
			return true
		}
	}
	return false
}

func isECID(s string) bool {
	if len(s) != 38 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// sniffDelimiter picks the delimiter that splits the first records into
// the same number of fields, more than one; among several, the one that
// gives the most fields. When none is consistent it picks the one that
// agrees with the header on the most records.
func sniffDelimiter(head []byte, whole bool) rune {
	best, bestConsistent, bestMatches, bestFields := ',', false, -1, 1
	for _, d := range Delimiters {
		recs, err := sniffRead(head, byte(d), whole, sniffRecords)
		if err != nil || len(recs) == 0 || recs[0].unreadable() || len(recs[0].fields) < 2 {
			continue
		}
		n := len(recs[0].fields)
		matches, consistent := 0, true
		for _, rec := range recs[1:] {
			if !rec.unreadable() && len(rec.fields) == n {
				matches++
			} else {
				consistent = false
			}
		}
		better := false
		switch {
		case consistent != bestConsistent:
			better = consistent
		case matches != bestMatches:
			better = matches > bestMatches
		default:
			better = n > bestFields
		}
		if better {
			best, bestConsistent, bestMatches, bestFields = d, consistent, matches, n
		}
	}
	return best
}

// sniffRead parses up to max records of head (blank ones skipped), leaving
// out an unfinished last record when head may be cut.
func sniffRead(head []byte, delim byte, whole bool, max int) ([]record, error) {
	p := newParserSize(bytes.NewReader(head), delim, min(len(head)+1, bufferSize))
	var recs []record
	for len(recs) < max {
		rec, err := p.read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if !whole && !rec.complete && len(recs) > 0 {
			break
		}
		if len(recs) > 0 && !rec.unreadable() && blank(rec.fields) {
			continue
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
