package main

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/config"
	"github.com/gatehouse-auth/gatehouse/internal/password"
	"github.com/gatehouse-auth/gatehouse/internal/token"
)

// TestConfigAgreesWithParts: config is plain data, importing none of the
// packages its values are for, yet it refuses a bad value when the
// configuration is resolved. The few rules it repeats to do so are held
// here, where the values are converted, to the packages that own them.
func TestConfigAgreesWithParts(t *testing.T) {
	d := config.Default()
	if !slices.Equal(config.SigningAlgorithms, token.Algorithms) {
		t.Errorf("config.SigningAlgorithms = %v, token.Algorithms = %v", config.SigningAlgorithms, token.Algorithms)
	}
	if d.SigningAlg != token.ES256 {
		t.Errorf("default signing_alg %q, want token.ES256", d.SigningAlg)
	}
	if config.KEKSize != token.KEKSize {
		t.Errorf("config.KEKSize = %d, token.KEKSize = %d", config.KEKSize, token.KEKSize)
	}
	if got := password.Params(d.Argon2); got != password.DefaultParams {
		t.Errorf("default argon2 %+v, want password.DefaultParams %+v", got, password.DefaultParams)
	}
	// Either side of every floor and ceiling: the same verdict, in the
	// same words.
	floor := d.Argon2
	for _, a := range []config.Argon2{
		floor,
		{},
		{MemoryKiB: floor.MemoryKiB - 1, Iterations: floor.Iterations, Parallelism: floor.Parallelism},
		{MemoryKiB: floor.MemoryKiB, Iterations: floor.Iterations - 1, Parallelism: floor.Parallelism},
		{MemoryKiB: floor.MemoryKiB, Iterations: floor.Iterations, Parallelism: 0},
		{MemoryKiB: 4 << 20, Iterations: 64, Parallelism: math.MaxUint8},
		{MemoryKiB: 4<<20 + 1, Iterations: floor.Iterations, Parallelism: 1},
		{MemoryKiB: floor.MemoryKiB, Iterations: 65, Parallelism: 1},
		{MemoryKiB: math.MaxUint32, Iterations: math.MaxUint32, Parallelism: math.MaxUint8},
		{MemoryKiB: 64, Iterations: 1000, Parallelism: 1},
	} {
		got, want := fmt.Sprint(a.Validate()), fmt.Sprint(password.Params(a).Validate())
		if got != want {
			t.Errorf("%+v: config says %s, password says %s", a, got, want)
		}
	}
}
