package library

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seeds are in testdata/fuzz too, so that `go test` alone replays them.

func FuzzParseBatchName(f *testing.F) {
	for _, s := range []string{"ftp_dpm_1001_1700000000.sync", "ftp_dpm_21_0000000001.overwrite.3.gz", "ftp_dpm_1001_1700000000.sync.0",
		"ftp_dpm_01_1700000000.sync", "ftp_dpm_1001_1700000000.sync.gz.1", "../ftp_dpm_1_1700000000.sync", "ftp_dpm_\xff_1.sync"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := ParseBatchName(name)
		if err == nil {
			if n.String() != name || n.DPID <= 0 || n.Part < 0 || !strings.HasPrefix(name, n.Upload()) {
				t.Fatalf("%q parsed as %+v (%s)", name, n, n)
			}
			return
		}
		var fe *FileError
		if !errors.As(err, &fe) || fe.Field != "name" || !strings.Contains(fe.Message, BatchNameRule) || !utf8.ValidString(fe.Message) {
			t.Fatalf("%q: %v", name, err)
		}
	})
}

func FuzzBatchLines(f *testing.F) {
	for _, s := range []string{
		"00000000000000000000000000000000000001\td_sid=5,ic=abc\n",
		"\ufeffuser\t12:0, 13:-1 ,d_unsid=7\r\nnext\tic=x\n",
		"u\t\"gender\"=\"m,f\",d_sid=1\nno tab here\n\n\nu\t,,\n",
		"a very long line that goes on and on and on and on\tk\nshort\tk",
		"u\t\"unclosed,quote\td_sid=99999999999999999999\nu\tx:1\n",
	} {
		f.Add([]byte(s), byte(16))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit byte) {
		maxLine := 1 + int(limit)%64
		lr := newLineReader(bytes.NewReader(data), maxLine)
		want := bytes.Split(data, []byte("\n"))
		if len(want[len(want)-1]) == 0 {
			want = want[:len(want)-1]
		}
		for i := 0; ; i++ {
			line, tooLong, err := lr.next()
			if errors.Is(err, io.EOF) {
				if i != len(want) {
					t.Fatalf("%d lines, want %d", i, len(want))
				}
				return
			}
			if err != nil || i >= len(want) || lr.line != i+1 {
				t.Fatalf("line %d (reader at %d of %d): %v", i+1, lr.line, len(want), err)
			}
			w := bytes.TrimSuffix(want[i], []byte("\r"))
			if i == 0 {
				w = bytes.TrimPrefix(w, []byte("\ufeff"))
			}
			if tooLong != (len(w) > maxLine) || !tooLong && !bytes.Equal(line, w) {
				t.Fatalf("line %d = %q (too long %v), want %q", i+1, line, tooLong, w)
			}
			if !tooLong {
				checkRow(t, string(line))
			}
		}
	})
}

// checkRow checks what a row's parse promises the processor.
func checkRow(t *testing.T, line string) {
	user, keys, problem := splitBatchRow(line)
	if problem != "" {
		if user != "" || keys != nil {
			t.Fatalf("%q refused (%s) with a user or keys", line, problem)
		}
		return
	}
	if !strings.HasPrefix(line, user+"\t") || len(keys) == 0 {
		t.Fatalf("%q: user %q, keys %q", line, user, keys)
	}
	for _, raw := range keys {
		if raw != strings.TrimSpace(raw) || !strings.Contains(line, raw) {
			t.Fatalf("%q: key %q", line, raw)
		}
		k, problem := parseBatchKey(raw)
		if !utf8.ValidString(quoteShort(raw)) {
			t.Fatalf("quote of %q is not UTF-8", raw)
		}
		switch {
		case problem != "":
		case k.kind == keyAdd && k.code != "":
			if strings.ContainsAny(k.code, ":=") || !strings.HasSuffix(raw, k.code) {
				t.Fatalf("%q: code %q", raw, k.code)
			}
		case k.kind >= keyAdd && k.kind <= keyUnsid && k.sid > 0 && k.code == "":
		default:
			t.Fatalf("%q parsed as %+v", raw, k)
		}
	}
}
