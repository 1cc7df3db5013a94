package test

import "testing"

// BenchmarkSynth measures a full four-stack synth of one environment in the
// test binary's jsii runtime (the cost each extra configuration adds).
func BenchmarkSynth(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := synthesize("dev", nil); err != nil {
			b.Fatal(err)
		}
	}
}
