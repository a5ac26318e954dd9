package importer

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"audiencebridge/identity"
)

// MaxNameChars is the longest first or last name accepted, in characters.
const MaxNameChars = 128

// Row is one data record of a CSV file, checked. When Problem is set the
// row is rejected: the caller records Line, Problem and Fields (the raw
// cells, so the rejected rows can be downloaded and fixed) and the other
// fields may be empty. An empty cell gives "": the caller leaves the stored
// value alone.
type Row struct {
	Line      int64 // physical line the record starts on, 1-based; the header is line 1
	Email     string
	FirstName string
	LastName  string
	CRMID     string
	VisitorID string
	Fields    []string // the raw cells, invalid UTF-8 and NUL as U+FFFD; nil when the record could not be read
	Problem   string
}

// Reader streams the rows of a CSV file in bounded memory: about
// MaxRecordBytes plus a 64 KiB buffer, whatever the input.
type Reader struct {
	p       *parser
	delim   rune
	mapping Mapping
	header  []string
	col     [5]int // field index of Email, FirstName, LastName, CRMID, VisitorID, or -1
	started bool
	err     error // sticky: io.EOF once done
}

// NewReader returns a reader of the CSV in r, whose fields are separated
// by delimiter (see ValidDelimiter) and whose columns are imported as
// mapping says; mapping has one entry per header column. A UTF-8 byte order
// mark is skipped, and the first line (the header) is read by the reader.
// Pass the *bufio.Reader used for Sniff, if any, so that no bytes are lost.
func NewReader(r io.Reader, delimiter rune, mapping Mapping) *Reader {
	rd := &Reader{delim: delimiter, mapping: mapping}
	// An invalid delimiter is reported by Next; any byte keeps the parser
	// well defined until then.
	d := byte(',')
	if ValidDelimiter(delimiter) {
		d = byte(delimiter)
	}
	rd.p = newParser(r, d)
	for i, c := range []Column{Email, FirstName, LastName, CRMID, VisitorID} {
		rd.col[i] = mapping.index(c)
	}
	return rd
}

// Header returns the cells of the header line once Next has been called.
func (r *Reader) Header() []string { return r.header }

// Next returns the next data row, io.EOF after the last one. Problems with
// the data are reported in Row.Problem, never as an error: the error is
// the underlying reader's, or, on the first call, a configuration error (an
// invalid delimiter or mapping, or a mapping that does not have one entry
// per header column). Blank lines, and lines whose cells are all blank,
// are skipped. After a quote that is never closed, Next reports that row
// and then returns io.EOF.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	if !r.started {
		r.started = true
		row, err := r.readHeader()
		if err != nil {
			r.err = err
			return Row{}, err
		}
		if row.Problem != "" {
			r.err = io.EOF
			return row, nil
		}
	}
	for {
		rec, err := r.p.read()
		if err != nil {
			r.err = err
			return Row{}, err
		}
		if rec.unclosed {
			r.err = io.EOF
		}
		if !rec.unreadable() && blank(rec.fields) {
			continue
		}
		return r.check(rec), nil
	}
}

func (r *Reader) readHeader() (Row, error) {
	if !ValidDelimiter(r.delim) {
		return Row{}, errDelimiter
	}
	if err := r.mapping.Validate(); err != nil {
		return Row{}, fmt.Errorf("invalid mapping: %w", err)
	}
	r.p.skipBOM()
	rec, err := r.p.read()
	if err != nil {
		return Row{}, err
	}
	if rec.unreadable() {
		return Row{Line: rec.line, Problem: "the header line cannot be read: " + whyUnreadable(rec)}, nil
	}
	r.header = cleanFields(rec)
	if len(r.mapping) != len(r.header) {
		return Row{}, fmt.Errorf("the mapping has %d %s, the header line has %d", len(r.mapping), plural(len(r.mapping), "column"), len(r.header))
	}
	return Row{}, nil
}

// unreadable reports whether the record's fields could not be read.
func (rec record) unreadable() bool { return rec.tooLong || rec.tooMany || rec.unclosed }

// whyUnreadable says why a record's fields could not be read.
func whyUnreadable(rec record) string {
	switch {
	case rec.unclosed:
		lines := fmt.Sprintf("lines %d–%d could not be read", rec.quoteLine, rec.lastLine)
		if rec.lastLine <= rec.quoteLine {
			lines = fmt.Sprintf("line %d could not be read", rec.quoteLine)
		}
		return fmt.Sprintf("a quote opened on line %d is never closed; %s", rec.quoteLine, lines)
	case rec.tooLong:
		return fmt.Sprintf("line is longer than %d bytes and was skipped: check that it is a CSV file and that its quotes are closed", MaxRecordBytes)
	default:
		return fmt.Sprintf("line has more than %d fields and was skipped: check the delimiter", MaxFields)
	}
}

// blank reports whether every cell is empty or white space, as in the
// ";;;;" rows spreadsheets leave at the end of a file.
func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// check turns a record into a Row, with the first problem found.
func (r *Reader) check(rec record) Row {
	row := Row{Line: rec.line, Fields: cleanFields(rec)}
	switch {
	case rec.unreadable():
		row.Problem = whyUnreadable(rec)
		return row
	case len(rec.fields) != len(r.header):
		row.Problem = fmt.Sprintf("line has %d %s, the header has %d", len(rec.fields), plural(len(rec.fields), "field"), len(r.header))
		return row
	case !rec.validUTF8:
		row.Problem = "line is not valid UTF-8: save the file as UTF-8"
		return row
	case rec.hasNUL:
		// A NUL is what a UTF-16 file looks like byte by byte.
		row.Problem = "line contains a NUL character, which text does not: save the file as UTF-8"
		return row
	}
	cell := func(i int) string {
		if c := r.col[i]; c >= 0 {
			return strings.TrimSpace(rec.fields[c])
		}
		return ""
	}
	email := cell(0)
	if email == "" {
		return rejected(row, Email, "the e-mail address is empty")
	}
	if err := identity.ValidateEmail(email); err != nil {
		return rejected(row, Email, err.Error())
	}
	// What is stored is checked too: lower-casing a few letters (Ⱥ) makes
	// the address longer.
	if row.Email = strings.ToLower(email); row.Email != email {
		if err := identity.ValidateEmail(row.Email); err != nil {
			return rejected(row, Email, err.Error())
		}
	}
	row.FirstName, row.LastName = cell(1), cell(2)
	for _, name := range []struct {
		col   Column
		value string
	}{{FirstName, row.FirstName}, {LastName, row.LastName}} {
		if n := utf8.RuneCountInString(name.value); n > MaxNameChars {
			return rejected(row, name.col, fmt.Sprintf("a %s has at most %d characters, this one has %d",
				strings.ToLower(name.col.Label()), MaxNameChars, n))
		}
		if strings.IndexFunc(name.value, unicode.IsControl) >= 0 {
			return rejected(row, name.col, fmt.Sprintf("a %s must not contain control characters such as tabs or line breaks",
				strings.ToLower(name.col.Label())))
		}
	}
	if row.CRMID = cell(3); row.CRMID != "" {
		if err := identity.ValidateDeclaredID(row.CRMID); err != nil {
			return rejected(row, CRMID, err.Error())
		}
	}
	if row.VisitorID = cell(4); row.VisitorID != "" {
		if err := identity.ValidateECID(row.VisitorID); err != nil {
			return rejected(row, VisitorID, err.Error())
		}
	}
	return row
}

// cleanFields returns the cells of rec, with invalid UTF-8 and NUL
// characters replaced by U+FFFD so that every string a Reader returns can
// be stored as text (PostgreSQL refuses both).
func cleanFields(rec record) []string {
	if rec.fields == nil || rec.validUTF8 && !rec.hasNUL {
		return rec.fields
	}
	fields := make([]string, len(rec.fields))
	for i, f := range rec.fields {
		fields[i] = strings.ReplaceAll(strings.ToValidUTF8(f, "\uFFFD"), "\x00", "\uFFFD")
	}
	return fields
}

// rejected returns row with only its line, raw cells and a problem that
// names the column.
func rejected(row Row, c Column, problem string) Row {
	return Row{Line: row.Line, Fields: row.Fields, Problem: string(c) + ": " + problem}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
