package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	ecid  = "07955261652886032950143702505894272138"
	ecid2 = "12345678901234567890123456789012345678"
)

// readAll reads every row of input, mapping its header with AutoMap.
func readAll(t *testing.T, input string, delim rune) []Row {
	t.Helper()
	p := newParser(strings.NewReader(input), byte(delim))
	p.skipBOM()
	hdr, err := p.read()
	if err == io.EOF {
		return readWith(t, strings.NewReader(input), delim, Mapping{Email})
	}
	if err != nil {
		t.Fatalf("reading the header: %v", err)
	}
	m := AutoMap(hdr.fields)
	if m.Validate() != nil {
		m = make(Mapping, max(len(hdr.fields), 1))
		m[0] = Email
	}
	return readWith(t, strings.NewReader(input), delim, m)
}

func readWith(t *testing.T, r io.Reader, delim rune, m Mapping) []Row {
	t.Helper()
	rd := NewReader(r, delim, m)
	var rows []Row
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
}

// short is the part of a Row a table compares; problem is a substring.
type short struct {
	line                                  int64
	email, first, last, crm, visitor, bad string
}

func shorten(rows []Row) []short {
	s := make([]short, len(rows))
	for i, r := range rows {
		s[i] = short{r.Line, r.Email, r.FirstName, r.LastName, r.CRMID, r.VisitorID, r.Problem}
	}
	return s
}

func sameRows(t *testing.T, got []Row, want []short) {
	t.Helper()
	g := shorten(got)
	if len(g) != len(want) {
		t.Fatalf("got %d rows, want %d:\n got %+v\nwant %+v", len(g), len(want), g, want)
	}
	for i := range want {
		w, r := want[i], g[i]
		problemOK := (w.bad == "") == (r.bad == "") && strings.Contains(r.bad, w.bad)
		w.bad, r.bad = "", ""
		if r != w || !problemOK {
			t.Errorf("row %d = %+v (problem %q), want %+v (problem containing %q)", i, g[i], got[i].Problem, want[i], want[i].bad)
		}
	}
}

func TestReaderRules(t *testing.T) {
	const hdr = "email,firstName,lastName,crmId,visitorId\n"
	long := strings.Repeat("é", 129)
	tests := []struct {
		name  string
		input string
		want  []short
	}{
		{"a full row", hdr + "Bob@Example.COM, Bob , Smith ,CUST-42, " + ecid + " \n",
			[]short{{2, "bob@example.com", "Bob", "Smith", "CUST-42", ecid, ""}}},
		{"empty cells stay empty", hdr + "bob@example.com,,,,\n",
			[]short{{line: 2, email: "bob@example.com"}}},
		{"no final line break", hdr + "bob@example.com,,,,",
			[]short{{line: 2, email: "bob@example.com"}}},
		{"email missing", hdr + " ,Bob,,,\n",
			[]short{{line: 2, bad: "email: the e-mail address is empty"}}},
		{"email invalid", hdr + "bob@,Bob,,,\n",
			[]short{{line: 2, bad: `email: "bob@" is not an e-mail address such as name@example.com`}}},
		{"first name too long", hdr + "bob@example.com," + long + ",,,\n",
			[]short{{line: 2, bad: "firstName: a first name has at most 128 characters, this one has 129"}}},
		{"last name too long", hdr + "bob@example.com,," + long + ",,\n",
			[]short{{line: 2, bad: "lastName: a last name has at most 128 characters"}}},
		{"128 characters is fine", hdr + "bob@example.com," + long[2:] + ",,,\n",
			[]short{{line: 2, email: "bob@example.com", first: long[2:]}}},
		{"CRM ID with colon", hdr + "bob@example.com,,,a:b,\n",
			[]short{{line: 2, bad: `crmId: a declared ID must not contain ":"`}}},
		{"visitor ID too short", hdr + "bob@example.com,,,,123\n",
			[]short{{line: 2, bad: `visitorId: a visitor ID (ECID) has 38 digits, this one has 3: "123"`}}},
		{"visitor ID with letters", hdr + "bob@example.com,,,," + ecid[:37] + "x\n",
			[]short{{line: 2, bad: "visitorId: a visitor ID (ECID) has only the digits 0 to 9"}}},
		{"too few fields", hdr + "bob@example.com,Bob,Smith\n",
			[]short{{line: 2, bad: "line has 3 fields, the header has 5"}}},
		{"too many fields", hdr + "bob@example.com,,,,,\n",
			[]short{{line: 2, bad: "line has 6 fields, the header has 5"}}},
		{"one field", hdr + "bob@example.com\n",
			[]short{{line: 2, bad: "line has 1 field, the header has 5"}}},
		{"not UTF-8", hdr + "bob@example.com,M\xfcller,,,\n",
			[]short{{line: 2, bad: "line is not valid UTF-8: save the file as UTF-8"}}},
		{"NUL", hdr + "bob@example.com,A\x00B,,,\n",
			[]short{{line: 2, bad: "line contains a NUL character"}}},
		{"line break in a name", hdr + "bob@example.com,\"Ann\nMarie\",,,\n",
			[]short{{line: 2, bad: "firstName: a first name must not contain control characters"}}},
		{"tab in a name", hdr + "bob@example.com,,Lee\tJr,,\n",
			[]short{{line: 2, bad: "lastName: a last name must not contain control characters"}}},
		{"Ⱥ grows when lower-cased", hdr + "a@" + strings.Repeat("Ⱥ", 124) + ".com,,,,\n",
			[]short{{line: 2, bad: "email: an e-mail address has at most 254 characters, this one has 378"}}},
		{"blank lines skipped", hdr + "\n\r\n" + "a@example.com,,,,\n\n,,,,\n ; , ,,\n" + "b@example.com,,,,\n",
			[]short{{line: 4, email: "a@example.com"}, {line: 7, bad: "line has 4 fields"}, {line: 8, email: "b@example.com"}}},
		{"good rows kept around bad ones", hdr + "a@example.com,,,,\nbad,,,,\nb@example.com,,,,\n",
			[]short{{line: 2, email: "a@example.com"}, {line: 3, bad: "email:"}, {line: 4, email: "b@example.com"}}},
		{"header only", hdr, nil},
		{"empty file", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameRows(t, readAll(t, tt.input, ','), tt.want)
		})
	}
}

func TestReaderFormats(t *testing.T) {
	tests := []struct {
		name  string
		input string
		delim rune
		want  []short
	}{
		{"CRLF", "email,firstName\r\na@example.com,Ann\r\nb@example.com,Bo\r\n", ',',
			[]short{{line: 2, email: "a@example.com", first: "Ann"}, {line: 3, email: "b@example.com", first: "Bo"}}},
		{"BOM", "\ufeffemail,firstName\na@example.com,Ann\n", ',',
			[]short{{line: 2, email: "a@example.com", first: "Ann"}}},
		{"semicolons", "email;firstName;lastName\na@example.com;Ann;Lee, Jr.\n", ';',
			[]short{{line: 2, email: "a@example.com", first: "Ann", last: "Lee, Jr."}}},
		{"tabs", "email\tfirstName\na@example.com\tAnn Marie\n", '\t',
			[]short{{line: 2, email: "a@example.com", first: "Ann Marie"}}},
		{"pipes", "email|visitorId\na@example.com|" + ecid + "\n", '|',
			[]short{{line: 2, email: "a@example.com", visitor: ecid}}},
		{"quoted fields spanning lines", "email,note,lastName\n" +
			"a@example.com,\"Ann\nMarie\",Lee\n" +
			"b@example.com,\"Bo\r\n\r\nBob\",\"O\"\"Neil\"\n" +
			"\"c@example.com\",Cy,\"\"\n", ',',
			[]short{
				{line: 2, email: "a@example.com", last: "Lee"},
				{line: 4, email: "b@example.com", last: `O"Neil`},
				{line: 7, email: "c@example.com"},
			}},
		{"quoted header spanning lines", "email,\"a\nb\",firstName\na@example.com,,Ann\n", ',',
			[]short{{line: 3, email: "a@example.com", first: "Ann"}}},
		{"stray quotes are literal", "email,lastName\na@example.com,O\"Neil\nb@example.com,\"Lee\"Jr\n", ',',
			[]short{{line: 2, email: "a@example.com", last: `O"Neil`}, {line: 3, email: "b@example.com", last: `Lee"Jr`}}},
		{"quoted delimiter", "email,lastName\na@example.com,\"Lee, Jr.\"\n", ',',
			[]short{{line: 2, email: "a@example.com", last: "Lee, Jr."}}},
		{"bare CR is data", "email,note\na@example.com,A\rB\nb@example.com,x\n", ',',
			[]short{{line: 2, email: "a@example.com"}, {line: 3, email: "b@example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameRows(t, readAll(t, tt.input, tt.delim), tt.want)
		})
	}
}

func TestReaderFields(t *testing.T) {
	rows := readAll(t, "email,phone\na@example.com, 555 \nbad,\"1\n2\"\nM\xfcller,x\x00y\n", ',')
	want := [][]string{{"a@example.com", " 555 "}, {"bad", "1\n2"}, {"M\ufffdller", "x\ufffdy"}}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows", len(rows))
	}
	for i, r := range rows {
		if !slices.Equal(r.Fields, want[i]) {
			t.Errorf("row %d Fields = %q, want %q", i, r.Fields, want[i])
		}
	}
}

func TestReaderUnclosedQuote(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []short
	}{
		{"runs to the end", "email,firstName\na@example.com,Ann\nb@example.com,\"Bo\nc@example.com,Cy\nd@example.com,Di\n",
			[]short{{line: 2, email: "a@example.com", first: "Ann"},
				{line: 3, bad: "a quote opened on line 3 is never closed; lines 3–5 could not be read"}}},
		{"without final line break", "email,firstName\nb@example.com,\"Bo\nc@example.com,Cy",
			[]short{{line: 2, bad: "lines 2–3 could not be read"}}},
		{"on the last line", "email,firstName\nb@example.com,\"Bo\n",
			[]short{{line: 2, bad: "a quote opened on line 2 is never closed; line 2 could not be read"}}},
		{"in the header", "email,\"firstName\na@example.com,Ann\n",
			[]short{{line: 1, bad: "the header line cannot be read: a quote opened on line 1 is never closed; lines 1–2"}}},
		{"opened on a later line of the record", "email,a,b\nx@example.com,\"1\n2\",\"3\n4\n",
			[]short{{line: 2, bad: "a quote opened on line 3 is never closed; lines 3–4"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameRows(t, readAll(t, tt.input, ','), tt.want)
		})
	}
}

// fill is an io.Reader of n copies of c, so that a huge line can be read
// without the test holding it in memory.
type fill struct {
	n int64
	c byte
}

func (f *fill) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, io.EOF
	}
	k := int64(len(p))
	k = min(k, f.n)
	for i := range p[:k] {
		p[i] = f.c
	}
	f.n -= k
	return int(k), nil
}

// TestReaderLongLine reads a huge line, checks it is rejected and the next
// row still read, and that reading it allocates about MaxRecordBytes, not
// the size of the line.
func TestReaderLongLine(t *testing.T) {
	sizes := []int64{MaxRecordBytes + 1, 10 << 20}
	if !testing.Short() {
		sizes = append(sizes, 1<<30)
	}
	for _, size := range sizes {
		for _, quoted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d bytes quoted=%v", size, quoted), func(t *testing.T) {
				open, end := "", "\n"
				if quoted {
					// A quoted line break inside the long record must not
					// end it.
					open, end = `"`+"\n", "\"\n"
				}
				in := io.MultiReader(
					strings.NewReader("email,lastName\na@example.com,"+open),
					&fill{n: size, c: 'x'},
					strings.NewReader(end+"b@example.com,Lee\n"),
				)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				rows := readWith(t, in, ',', Mapping{Email, LastName})
				runtime.ReadMemStats(&after)
				want := []short{
					{line: 2, bad: "line is longer than 1048576 bytes and was skipped"},
					{line: 3, email: "b@example.com", last: "Lee"},
				}
				if quoted {
					want[1].line = 4
				}
				sameRows(t, rows, want)
				if rows[0].Fields != nil {
					t.Errorf("a skipped line has %d Fields", len(rows[0].Fields))
				}
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*MaxRecordBytes {
					t.Errorf("reading a %d-byte line allocated %d bytes", size, alloc)
				}
			})
		}
	}
}

func TestReaderManyFields(t *testing.T) {
	rows := readAll(t, "email,x\n"+strings.Repeat(",", 100_000)+"\nb@example.com,y\n", ',')
	sameRows(t, rows, []short{{line: 2, bad: "line has more than 1024 fields"}, {line: 3, email: "b@example.com"}})
}

// TestReaderLimit checks the edge of MaxRecordBytes.
func TestReaderLimit(t *testing.T) {
	prefix := "a@example.com,"
	fits := prefix + strings.Repeat("x", MaxRecordBytes-len(prefix))
	rows := readWith(t, strings.NewReader("email,lastName\r\n"+fits+"\r\n"+fits+"x\r\n"), ',', Mapping{Email, Ignore})
	sameRows(t, rows, []short{{line: 2, email: "a@example.com"}, {line: 3, bad: "longer than"}})
}

// TestReaderSmallBuffer splits records at every byte boundary the bufio
// buffer can fall on, including between a CR and its LF.
func TestReaderSmallBuffer(t *testing.T) {
	input := "email,lastName\r\n" + "a@example.com,\"x\r\ny\"\r\n" + "b@example.com," + strings.Repeat("z", 70_000) + "\r\r\n"
	want := []Row{
		{Line: 2, Fields: []string{"a@example.com", "x\ny"}},
		{Line: 4, Fields: []string{"b@example.com", strings.Repeat("z", 70_000) + "\r"}},
	}
	for _, r := range []io.Reader{iotest.OneByteReader(strings.NewReader(input)), iotest.HalfReader(strings.NewReader(input))} {
		rows := readWith(t, r, ',', Mapping{Email, LastName})
		if len(rows) != 2 {
			t.Fatalf("got %d rows", len(rows))
		}
		for i := range rows {
			if rows[i].Line != want[i].Line || !slices.Equal(rows[i].Fields, want[i].Fields) {
				t.Errorf("row %d = line %d, %.20q", i, rows[i].Line, rows[i].Fields)
			}
		}
	}
	// A CR that ends a full buffer, then the LF: the line ends there.
	cr := "email\n" + strings.Repeat("a", bufferSize-5) + "@b.c\r\nx@y.z\n"
	rows := readWith(t, strings.NewReader(cr), ',', Mapping{Email})
	if len(rows) != 2 || rows[0].Fields[0] != strings.Repeat("a", bufferSize-5)+"@b.c" || rows[1].Line != 3 {
		t.Errorf("a CRLF split by the buffer is not a line end: %d rows", len(rows))
	}
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("disk on fire")
	rd := NewReader(io.MultiReader(strings.NewReader("email\na@example.com\n"), iotest.ErrReader(boom)), ',', Mapping{Email})
	var err error
	for err == nil {
		_, err = rd.Next()
	}
	if !errors.Is(err, boom) {
		t.Errorf("Next = %v, want %v", err, boom)
	}
	if _, again := rd.Next(); again != err {
		t.Errorf("then Next = %v, want the same error", again)
	}
	tests := []struct {
		name    string
		delim   rune
		m       Mapping
		wantErr string
	}{
		{"letter delimiter", 'a', Mapping{Email}, "the delimiter must be"},
		{"quote delimiter", '"', Mapping{Email}, "the delimiter must be"},
		{"non-ASCII delimiter", '§', Mapping{Email}, "the delimiter must be"},
		{"no email", ',', Mapping{FirstName, Ignore}, "invalid mapping: no column is imported as E-mail"},
		{"mapping too short", ',', Mapping{Email}, "the mapping has 1 column, the header line has 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewReader(strings.NewReader("email,firstName\na@example.com,Ann\n"), tt.delim, tt.m).Next()
			checkErr(t, err, tt.wantErr)
		})
	}
}

// TestReaderAfterSniff is how the caller uses the package: sniff the head
// of a buffered stream, then read the same stream.
func TestReaderAfterSniff(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("\ufeffE-Mail;Vorname\nA@Example.com;Ann\n"), SniffBytes)
	head, err := br.Peek(SniffBytes)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	p, err := Sniff(head, 10)
	if err != nil {
		t.Fatal(err)
	}
	rows := readWith(t, br, p.Delimiter, p.Mapping)
	sameRows(t, rows, []short{{line: 2, email: "a@example.com"}})
}

// genCSV returns n data rows of about 80 bytes, the shape of a real export.
func genCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("email,firstName,lastName,crmId,visitorId\n")
	for i := range n {
		fmt.Fprintf(&b, "user%07d@example.com,Firstname%d,Lastname%d,CUST-%d,%038d\n", i, i%100, i%1000, i, i)
	}
	return b.Bytes()
}

func BenchmarkReader(b *testing.B) {
	const n = 100_000
	data := genCSV(n)
	m := Mapping{Email, FirstName, LastName, CRMID, VisitorID}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd := NewReader(bytes.NewReader(data), ',', m)
		rows := 0
		for {
			row, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil || row.Problem != "" {
				b.Fatalf("row %d: %v %s", row.Line, err, row.Problem)
			}
			rows++
		}
		if rows != n {
			b.Fatalf("read %d rows", rows)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
