package token_test

import (
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// BenchmarkIssue measures signing one access token, per algorithm.
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

// BenchmarkVerify measures the server's full verification of one access
// token (parse, key lookup, signature, claims), per algorithm.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range token.Algorithms {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			ctx := context.Background()
			raw := f.issue(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.verifier.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
