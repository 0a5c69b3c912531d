package experiment

import (
	"math"
	"testing"
)

func TestBetaQuantile(t *testing.T) {
	tests := []struct{ a, b, q, want float64 }{
		{1, 1, 0.3, 0.3},       // uniform
		{2, 1, 0.25, 0.5},      // CDF x^2
		{1, 2, 0.75, 0.5},      // CDF 1-(1-x)^2
		{5, 5, 0.5, 0.5},       // symmetric
		{10, 30, 0.5, 0.24576}, // median ≈ (a-1/3)/(a+b-2/3), good to 1e-4 here
	}
	for _, tt := range tests {
		if got := betaQuantile(tt.a, tt.b, tt.q); math.Abs(got-tt.want) > 1e-4 {
			t.Errorf("betaQuantile(%v,%v,%v) = %v, want %v", tt.a, tt.b, tt.q, got, tt.want)
		}
	}
}
