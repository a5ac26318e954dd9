package main

import (
	"math"
	"testing"
)

func TestGrowthExponent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		times func(n float64) float64
		want  float64
	}{
		{"linear", func(n float64) float64 { return 3e-6 * n }, 1},
		{"quadratic", func(n float64) float64 { return 1e-9 * n * n }, 2},
		// d ln t / d ln n of n log n is 1 + 1/ln n: about 1.07 around a million.
		{"n log n", func(n float64) float64 { return 1e-7 * n * math.Log2(n) }, 1 + 1/math.Log(1e6)},
	} {
		var gs []growthMedian
		for _, n := range []int64{100_000, 1_000_000, 5_000_000} {
			gs = append(gs, growthMedian{size: n, seconds: tc.times(float64(n))})
		}
		if got := growthExponent(gs); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("%s: exponent %.3f, want %.2f", tc.name, got, tc.want)
		}
	}
}

func TestParseSizes(t *testing.T) {
	got, err := parseSizes("100_000, 1000000,5000000")
	if err != nil || len(got) != 3 || got[0] != 100_000 || got[2] != 5_000_000 {
		t.Fatalf("parseSizes = %v, %v", got, err)
	}
	for _, bad := range []string{"", "10,x", "100,10", "0", "-5"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
}
