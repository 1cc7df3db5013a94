package test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSnapshots compares every stack of every environment with its golden
// template. A difference is a change users will see in `cdk diff`: review it,
// then refresh with `go test ./test -update`.
func TestSnapshots(t *testing.T) {
	type snapshot struct {
		name string
		tpl  map[string]any
	}
	var snaps []snapshot
	for _, env := range []string{"dev", "prod"} {
		for _, part := range envs[env].parts() {
			snaps = append(snaps, snapshot{fmt.Sprintf("tsa-%s-%s", env, part), envs[env].raw[part]})
		}
		// The other data tiers change only the data stack's template.
		snaps = append(snaps,
			snapshot{fmt.Sprintf("tsa-%s-data.timescaledb", env), timescaleSynth(t, env).raw["data"]},
			snapshot{fmt.Sprintf("tsa-%s-data.external", env), externalSynth(t, env).raw["data"]})
	}
	dir := filepath.Join(root, "test", "snapshots")
	for _, snap := range snaps {
		name := snap.name + ".template.json"
		t.Run(snap.name, func(t *testing.T) {
			got, err := normalize(snap.tpl)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("no snapshot %s: run `go test ./test -update` and commit it (%v)", path, err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s differs from its snapshot:\n%s\nIf the change is intended, run `go test ./test -update` and commit the snapshot.", name, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff shows the first differing lines with some context; enough to see
// what changed without a diff library.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	first := 0
	for first < len(w) && first < len(g) && w[first] == g[first] {
		first++
	}
	lastW, lastG := len(w)-1, len(g)-1
	for lastW > first && lastG > first && w[lastW] == g[lastG] {
		lastW--
		lastG--
	}
	var b strings.Builder
	from := max(0, first-3)
	for i := from; i < first; i++ {
		fmt.Fprintf(&b, "  %d   %s\n", i+1, w[i])
	}
	for i := first; i <= lastW && i < first+40; i++ {
		fmt.Fprintf(&b, "  %d - %s\n", i+1, w[i])
	}
	for i := first; i <= lastG && i < first+40; i++ {
		fmt.Fprintf(&b, "  %d + %s\n", i+1, g[i])
	}
	return b.String()
}
