package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// lintTarget is one synthesized template file and its parsed content.
type lintTarget struct {
	file string
	raw  map[string]any
}

// cfnLint runs cfn-lint, with the project's .cfnlintrc.yaml, once over each
// distinct template of synths (and of extra): many variants share templates (a data-tier
// variant leaves the network and frontend stacks as they are), so templates
// are keyed by the hash of their normalized JSON and the first file of each
// is linted.
//
// All of them go to ONE cfn-lint process: it spends ~2 s importing itself and
// then loads and compiles each resource type's schema once, so every extra
// process repeats that work. Measured here (28 distinct templates, load ~4,
// medians of 4 interleaved runs of the test binary): one process at the end
// 29 s wall / 32 s CPU; two at the end 36 s / 44 s; linting in the background
// while the other tests synthesize 42 s / 50 s.
//
// With TSA_CFN_LINT_CACHE=on, a template that passed is remembered in the
// user's cache directory under the hash of cfn-lint's version,
// .cfnlintrc.yaml and the normalized template, so a later run lints only
// what changed (like Go's own caches); findings are never cached. Off by
// default: every run lints every distinct template.
func cfnLint(synths []*synth, extra ...lintTarget) (findings, summary string, err error) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		return "", "", fmt.Errorf("cfn-lint is required (pip install cfn-lint); .ci/run checks for it")
	}
	config := filepath.Join(root, ".cfnlintrc.yaml")
	cacheDir, cacheKey, err := lintCache(bin, config)
	if err != nil {
		return "", "", err
	}

	targets := extra
	for _, s := range synths {
		for _, part := range s.parts() {
			targets = append(targets, lintTarget{file: s.files[part], raw: s.raw[part]})
		}
	}
	var files, passed []string // files to lint, and their cache entries
	seen := map[[sha256.Size]byte]bool{}
	var cached, total int
	for _, tg := range targets {
		total++
		data, err := normalize(tg.raw)
		if err != nil {
			return "", "", err
		}
		key := sha256.Sum256(data)
		if seen[key] {
			continue
		}
		seen[key] = true
		if cacheDir != "" {
			entry := sha256.Sum256(append(append(append([]byte{}, cacheKey...), 0), data...))
			path := filepath.Join(cacheDir, hex.EncodeToString(entry[:]))
			if _, err := os.Stat(path); err == nil {
				cached++
				continue
			}
			passed = append(passed, path)
		}
		files = append(files, tg.file)
	}
	summary = fmt.Sprintf("%d templates, %d distinct, %d linted now, %d passed in an earlier run (TSA_CFN_LINT_CACHE)",
		total, len(seen), len(files), cached)
	if len(files) == 0 {
		return "", summary, nil
	}
	out, err := exec.Command(bin, append([]string{"--config-file", config, "--format", "parseable"}, files...)...).CombinedOutput()
	findings = strings.TrimSpace(string(out))
	if err == nil && findings == "" {
		for _, path := range passed {
			_ = os.WriteFile(path, nil, 0o644) // a lost entry only costs a re-lint
		}
	}
	return findings, summary, err
}

// lintCache returns the cache directory and the key prefix (cfn-lint's
// version and configuration) when TSA_CFN_LINT_CACHE=on, else "".
func lintCache(bin, config string) (string, []byte, error) {
	if os.Getenv("TSA_CFN_LINT_CACHE") != "on" {
		return "", nil, nil
	}
	userCache, err := os.UserCacheDir()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(userCache, "tsa-infra", "cfn-lint")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	version, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "", nil, fmt.Errorf("cfn-lint --version: %v", err)
	}
	cfg, err := os.ReadFile(config)
	if err != nil {
		return "", nil, err
	}
	return dir, append(append(version, 0), cfg...), nil
}
