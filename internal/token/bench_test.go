package token_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// BenchmarkIssue measures signing one access token, per algorithm.
// Verification is the guard's; its benchmarks are in guard/bench_test.go.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range token.Algorithms {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := f.issuer.Issue(ctx, subject); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
