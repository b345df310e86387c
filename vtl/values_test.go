package vtl

import (
	"math"
	"testing"
)

// Expected strings printed by Java 17's Double.toString.
func TestJavaDouble(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0.1, "0.1"},
		{0.002, "0.002"},
		{0.30000000000000004, "0.30000000000000004"},
		{100, "100.0"},
		{1e7, "1.0E7"},
		{9999999.999, "9999999.999"},
		{1e-4, "1.0E-4"},
		{1e-5, "1.0E-5"},
		{123456789, "1.23456789E8"},
		{math.Copysign(0, -1), "-0.0"},
		{-1.5, "-1.5"},
		{9007199254740993, "9.007199254740992E15"},
		{2.82879384806159e17, "2.82879384806159008E17"},
		{4.6167626866248745e18, "4.6167626866248745E18"},
		{1.2345678901234567e19, "1.2345678901234567E19"},
		{math.MaxFloat64, "1.7976931348623157E308"},
		{math.NaN(), "NaN"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := javaDouble(tc.in); got != tc.want {
				t.Errorf("javaDouble(%v) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}
