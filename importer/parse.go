package importer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// MaxRecordBytes is the longest record (line, or lines of one record with
// quoted line breaks) that is read; a longer one is skipped and rejected
// without being held in memory.
const MaxRecordBytes = 1 << 20

// MaxFields is the most fields a record may have. It bounds the memory of a
// line made of delimiters only, which MaxRecordBytes alone would not.
const MaxFields = 1024

// bufferSize is the bufio buffer: records longer than it are read in
// pieces, so it bounds memory together with MaxRecordBytes.
const bufferSize = 64 << 10

// States of the RFC 4180 state machine.
const (
	fieldStart = iota // before the first byte of a field
	unquoted          // inside a field that did not start with a quote
	quoted            // inside a quoted field
	quoteSeen         // just after a quote inside a quoted field
)

// record is one CSV record as the parser found it. fields is nil when the
// record was too long, had too many fields or has an unclosed quote.
type record struct {
	line      int64 // physical line the record starts on, 1-based
	fields    []string
	tooLong   bool
	tooMany   bool
	unclosed  bool  // a quoted field runs to the end of the input
	quoteLine int64 // where the unclosed quote opened
	lastLine  int64 // the last line of the input, for an unclosed quote
	complete  bool  // ended by a line break rather than by the end of input
	validUTF8 bool
	hasNUL    bool
}

// parser reads RFC 4180 records: fields separated by delim, optionally
// quoted with '"', quotes doubled inside quoted fields, quoted fields
// spanning lines, CRLF or LF line ends. It is lenient where encoding/csv
// would fail: a quote inside an unquoted field, or text after a closing
// quote, is kept as a literal character. Blank lines are skipped.
type parser struct {
	br    *bufio.Reader
	delim byte
	line  int64 // the physical line being read
	buf   []byte
	ends  []int
	err   error // sticky: an I/O error or io.EOF
}

func newParser(r io.Reader, delim byte) *parser {
	return newParserSize(r, delim, bufferSize)
}

// newParserSize is newParser with a buffer of size bytes: Sniff parses a
// small head several times and needs no more than its length.
func newParserSize(r io.Reader, delim byte, size int) *parser {
	// NewReaderSize reuses r when it is a big enough *bufio.Reader, so
	// bytes a caller peeked at for Sniff are not lost.
	return &parser{br: bufio.NewReaderSize(r, size), delim: delim, line: 1}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input, which
// spreadsheet programs write when they save "CSV UTF-8".
func (p *parser) skipBOM() {
	if b, err := p.br.Peek(3); err == nil && bytes.Equal(b, bom) {
		_, _ = p.br.Discard(3) // cannot fail: the bytes are buffered
	}
}

var (
	bom            = []byte{0xEF, 0xBB, 0xBF}
	carriageReturn = []byte{'\r'}
	lineFeed       = []byte{'\n'}
	quoteChar      = []byte{'"'}
)

// read returns the next record, io.EOF after the last one, or the error of
// the underlying reader.
func (p *parser) read() (record, error) {
	if p.err != nil {
		return record{}, p.err
	}
	p.buf, p.ends = p.buf[:0], p.ends[:0]
	rec := record{line: p.line}
	state := fieldStart
	dirty := false     // some byte of this record was read
	pendingCR := false // a '\r' ended a piece: data, unless a '\n' follows
	size := 0
	for {
		chunk, err := p.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			p.err = err
			return record{}, err
		}
		eol := len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		body := chunk
		if eol {
			body = body[:len(body)-1]
		}
		if pendingCR {
			pendingCR = false
			crlf := eol && len(body) == 0
			atEnd := err == io.EOF && len(chunk) == 0
			if !crlf && !atEnd {
				state = p.feed(state, carriageReturn, &rec)
				size++
			}
		}
		if n := len(body); n > 0 && body[n-1] == '\r' {
			// CRLF ends a line; a '\r' at the very end of the input is
			// dropped too, as encoding/csv does. A '\r' that ends a full
			// buffer waits for the next piece to tell.
			body = body[:n-1]
			pendingCR = err == bufio.ErrBufferFull
		}
		if len(body) > 0 || pendingCR {
			dirty = true
		}
		if !dirty && eol && state == fieldStart {
			p.line++
			rec.line = p.line
			continue
		}
		size += len(body)
		if size > MaxRecordBytes {
			rec.tooLong = true
		}
		state = p.feed(state, body, &rec)
		if eol {
			p.line++
			if state == quoted {
				size++
				p.add(lineFeed, &rec)
				continue
			}
			rec.complete = true
			return p.finish(rec), nil
		}
		if err == io.EOF {
			p.err = io.EOF
			if state == quoted {
				rec.unclosed = true
				rec.lastLine = p.line
				if len(chunk) == 0 {
					rec.lastLine-- // the input ended with a line break
				}
				return rec, nil
			}
			if !dirty {
				return record{}, io.EOF
			}
			return p.finish(rec), nil
		}
	}
}

// finish ends the last field and turns the buffer into the record's fields:
// one string for the whole record, fields are slices of it.
func (p *parser) finish(rec record) record {
	p.endField(&rec)
	if rec.tooLong || rec.tooMany {
		return rec
	}
	rec.validUTF8 = utf8.Valid(p.buf)
	rec.hasNUL = bytes.IndexByte(p.buf, 0) >= 0
	s := string(p.buf)
	rec.fields = make([]string, len(p.ends))
	start := 0
	for i, end := range p.ends {
		rec.fields[i] = s[start:end]
		start = end
	}
	return rec
}

func (p *parser) add(b []byte, rec *record) {
	if rec.tooLong || rec.tooMany {
		return
	}
	if n := len(p.buf) + len(b); n > cap(p.buf) {
		// Powers of two up to MaxRecordBytes, where append grows big
		// slices by a quarter: a record of MaxRecordBytes then allocates
		// about twice that in all, not five times.
		c := max(cap(p.buf), 512)
		for c < n {
			c *= 2
		}
		buf := make([]byte, len(p.buf), max(n, min(c, MaxRecordBytes)))
		copy(buf, p.buf)
		p.buf = buf
	}
	p.buf = append(p.buf, b...)
}

func (p *parser) endField(rec *record) {
	if len(p.ends) == MaxFields {
		rec.tooMany = true
		return
	}
	p.ends = append(p.ends, len(p.buf))
}

// feed runs the state machine over b, a piece of one physical line without
// its line break, and returns the state it ends in.
func (p *parser) feed(state int, b []byte, rec *record) int {
	for i := 0; i < len(b); {
		switch state {
		case fieldStart:
			if b[i] == '"' {
				state = quoted
				rec.quoteLine = p.line
				i++
				continue
			}
			state = unquoted
		case unquoted:
			j := bytes.IndexByte(b[i:], p.delim)
			if j < 0 {
				p.add(b[i:], rec)
				return unquoted
			}
			p.add(b[i:i+j], rec)
			p.endField(rec)
			state = fieldStart
			i += j + 1
		case quoted:
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				p.add(b[i:], rec)
				return quoted
			}
			p.add(b[i:i+j], rec)
			state = quoteSeen
			i += j + 1
		case quoteSeen:
			switch b[i] {
			case '"': // a doubled quote stands for one
				p.add(b[i:i+1], rec)
				state = quoted
				i++
			case p.delim:
				p.endField(rec)
				state = fieldStart
				i++
			default:
				// Text after a closing quote: keep the quote and go on
				// as an unquoted field rather than lose the line.
				p.add(quoteChar, rec)
				state = unquoted
			}
		}
	}
	return state
}

// errDelimiter is returned when the delimiter cannot separate CSV fields.
var errDelimiter = errors.New("the delimiter must be a single ASCII punctuation character, a space or a tab, and not a quote")

// ValidDelimiter reports whether d can separate fields: an ASCII
// punctuation character (not the quote), a space or a tab.
func ValidDelimiter(d rune) bool {
	switch {
	case d == '\t' || d == ' ':
		return true
	case d == '"' || d >= utf8.RuneSelf || d < ' ' || d == 0x7f:
		return false
	case 'a' <= d && d <= 'z', 'A' <= d && d <= 'Z', '0' <= d && d <= '9':
		return false
	}
	return true
}
