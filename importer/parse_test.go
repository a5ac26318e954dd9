package importer

import (
	"bytes"
	"encoding/csv"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestParserMatchesEncodingCSV checks that, on valid CSV within the limits,
// the parser yields the records encoding/csv does, starting on the same
// lines.
func TestParserMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "Z", "0", " ", "é", "☃", `"`, ",", ";", "\t", "|", "\n", "\r\n", "\r", "@"}
	for i := range 2000 {
		delim := Delimiters[rng.IntN(len(Delimiters))]
		records := make([][]string, 1+rng.IntN(8))
		for r := range records {
			records[r] = make([]string, 1+rng.IntN(5))
			for f := range records[r] {
				var b strings.Builder
				for range rng.IntN(8) {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				records[r][f] = b.String()
			}
			if len(records[r]) == 1 && records[r][0] == "" {
				// encoding/csv writes it as a blank line, which no reader
				// returns.
				records[r][0] = "x"
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = delim
		w.UseCRLF = rng.IntN(2) == 0
		if err := w.WriteAll(records); err != nil {
			t.Fatal(err)
		}
		input := buf.Bytes()
		if rng.IntN(4) == 0 {
			input = bytes.TrimSuffix(bytes.TrimSuffix(input, []byte("\n")), []byte("\r"))
		}

		want, wantLines := readEncodingCSV(t, input, delim)
		p := newParser(bytes.NewReader(input), byte(delim))
		var got [][]string
		var gotLines []int64
		for {
			rec, err := p.read()
			if err == io.EOF {
				break
			}
			if err != nil || rec.unreadable() {
				t.Fatalf("case %d: %v %+v on %q", i, err, rec, input)
			}
			got = append(got, rec.fields)
			gotLines = append(gotLines, rec.line)
		}
		if !slices.EqualFunc(got, want, slices.Equal) || !slices.Equal(gotLines, wantLines) {
			t.Fatalf("case %d, input %q:\n got %q at %v\nwant %q at %v", i, input, got, gotLines, want, wantLines)
		}
	}
}

func readEncodingCSV(t *testing.T, input []byte, delim rune) ([][]string, []int64) {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(input))
	r.Comma = delim
	r.FieldsPerRecord = -1
	var recs [][]string
	var lines []int64
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return recs, lines
		}
		if err != nil {
			t.Fatalf("encoding/csv cannot read its own output %q: %v", input, err)
		}
		line, _ := r.FieldPos(0)
		recs = append(recs, rec)
		lines = append(lines, int64(line))
	}
}

func TestValidDelimiter(t *testing.T) {
	for _, d := range []rune{',', ';', '\t', '|', ' ', ':', '^'} {
		if !ValidDelimiter(d) {
			t.Errorf("ValidDelimiter(%q) = false", d)
		}
	}
	for _, d := range []rune{'"', '\n', '\r', 0, 'a', 'Z', '5', '§', 0x7f, '\ufeff'} {
		if ValidDelimiter(d) {
			t.Errorf("ValidDelimiter(%q) = true", d)
		}
	}
}
