package models

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestIDBitmapRoundTrip sets random offsets of a batch and reads the ids
// back from every starting point, against a sorted list of the same ids.
func TestIDBitmapRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, width := range []int64{1, 7, 8, 9, 64, 1000, 200_000} {
		lo := int64(rng.IntN(1000))
		hi := lo + width
		var offsets []string
		want := map[int64]bool{}
		for range int(width/3) + 1 {
			off := rng.Int64N(width)
			offsets = append(offsets, strconv.FormatInt(off, 10))
			want[lo+1+off] = true
		}
		b := newIDBitmap(lo, hi)
		if err := b.setOffsets(strings.Join(offsets, ","), width); err != nil {
			t.Fatal(err)
		}
		var sorted []int64
		for id := range want {
			sorted = append(sorted, id)
		}
		slices.Sort(sorted)
		if got := b.count(); got != int64(len(sorted)) {
			t.Errorf("width %d: count %d, want %d", width, got, len(sorted))
		}
		if got := b.ids(lo, 0, nil, len(sorted)+1); !slices.Equal(got, sorted) {
			t.Errorf("width %d: ids %v, want %v", width, got[:min(len(got), 5)], sorted[:min(len(sorted), 5)])
		}
		for _, after := range []int64{lo, lo + 1, lo + width/2, hi - 1, hi} {
			i, _ := slices.BinarySearch(sorted, after+1)
			wantAfter := sorted[i:min(i+3, len(sorted))]
			if got := b.ids(lo, after, nil, 3); !slices.Equal(got, wantAfter) {
				t.Errorf("width %d: ids after %d = %v, want %v", width, after, got, wantAfter)
			}
		}
	}
}

func TestIDBitmapRefusesOffsetsOutsideTheBatch(t *testing.T) {
	b := newIDBitmap(100, 110)
	for _, list := range []string{"10", "16", "-1", "x", "1,,2"} {
		if err := b.setOffsets(list, 10); err == nil {
			t.Errorf("offsets %q accepted in a batch of 10", list)
		}
	}
	if err := b.setOffsets("", 10); err != nil {
		t.Errorf("an empty batch: %v", err)
	}
}
