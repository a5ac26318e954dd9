package handlers

import (
	"slices"
	"testing"
)

// Every CSV download (rejected.csv, unrecognized.csv, the transitions'
// result and complement, audit.csv) writes its rows through neutralize: a
// cell a spreadsheet would run as a formula gets a leading apostrophe.
func TestNeutralizeFormulaCells(t *testing.T) {
	in := []string{"=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "", "a=b", "'quoted"}
	want := []string{"'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "plain", "", "a=b", "'quoted"}
	if got := neutralize(slices.Clone(in)); !slices.Equal(got, want) {
		t.Errorf("neutralize(%q) = %q, want %q", in, got, want)
	}
}
