package library

import (
	"bufio"
	"io"
	"strings"
)

// Lines reads one identifier a line (text/plain bodies); blank lines count
// as lines so that error positions match the body's line numbers.
func Lines(r io.Reader) MemberSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &lineSource{sc: sc}
}

type lineSource struct{ sc *bufio.Scanner }

func (l *lineSource) Next() (string, error) {
	if l.sc.Scan() {
		return strings.TrimRight(l.sc.Text(), "\r"), nil
	}
	if err := l.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// Slice yields the identifiers of a slice.
func Slice(ids []string) MemberSource { return &sliceSource{ids: ids} }

type sliceSource struct {
	ids []string
	i   int
}

func (s *sliceSource) Next() (string, error) {
	if s.i >= len(s.ids) {
		return "", io.EOF
	}
	s.i++
	return s.ids[s.i-1], nil
}
