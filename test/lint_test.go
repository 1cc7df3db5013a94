package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// linter runs cfn-lint, with the project's .cfnlintrc.yaml, once over each
// distinct template the tests synthesize. Many variants share templates (a
// data-tier variant leaves the network and frontend stacks as they are), so
// templates are keyed by the hash of their normalized JSON.
//
// cfn-lint needs ~2 s to start and ~0.6 s per template on these machines, so
// templates are linted in few processes: one in the background while the
// tests synthesize (jsii leaves most of the second core idle), and the rest
// split over two processes when TestCfnLint asks for the results.
//
// With TSA_CFN_LINT_CACHE=on, a template that passed is remembered in the
// user's cache directory under the hash of cfn-lint's version,
// .cfnlintrc.yaml and the normalized template, so a later run lints only
// what changed (like Go's own caches); findings are never cached. Off by
// default: every run lints every distinct template.
type linter struct {
	bin, config string
	background  bool // lint while the tests run (only when TestCfnLint will run)

	cacheDir string        // "" when results are not cached
	cacheKey []byte        // cfn-lint's version and the config file
	keyReady chan struct{} // closed once cacheKey is known (or caching is off)

	mu        sync.Mutex
	templates map[[sha256.Size]byte]*lintTemplate
	pending   []*lintTemplate
	running   int
	all       sync.WaitGroup
}

// lintTemplate is one distinct template and the cfn-lint run that covers it.
type lintTemplate struct {
	file   string // the first synthesized file with this content
	cached string // its entry in the cache directory ("" when not cached)
	batch  *lintBatch
}

// passedBefore stands for the cfn-lint runs of earlier test runs.
var passedBefore = func() *lintBatch {
	b := &lintBatch{done: make(chan struct{}), cached: true}
	close(b.done)
	return b
}()

// lintBatch is one cfn-lint process over several templates.
type lintBatch struct {
	files  []string
	done   chan struct{}
	out    string
	err    error
	cached bool
}

func newLinter(root string, background bool) *linter {
	l := &linter{config: filepath.Join(root, ".cfnlintrc.yaml"), templates: map[[sha256.Size]byte]*lintTemplate{}, keyReady: make(chan struct{})}
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		close(l.keyReady)
		return l
	}
	l.bin, l.background = bin, background
	cache, err := os.UserCacheDir()
	if !background || os.Getenv("TSA_CFN_LINT_CACHE") != "on" || err != nil {
		close(l.keyReady)
		return l
	}
	go func() {
		defer close(l.keyReady)
		version, err := exec.Command(bin, "--version").Output()
		config, cerr := os.ReadFile(l.config)
		dir := filepath.Join(cache, "tsa-infra", "cfn-lint")
		if err != nil || cerr != nil || os.MkdirAll(dir, 0o755) != nil {
			return
		}
		l.cacheDir, l.cacheKey = dir, append(append(version, 0), config...)
	}()
	return l
}

// add registers the templates of a synth; in the background mode it starts
// a cfn-lint process on whatever is pending if none is running.
func (l *linter) add(s *synth) error {
	<-l.keyReady
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, part := range parts {
		if _, err := l.addLocked(s, part); err != nil {
			return err
		}
	}
	if l.background && l.running == 0 {
		l.startLocked(l.pending)
		l.pending = nil
	}
	return nil
}

func (l *linter) addLocked(s *synth, part string) (*lintTemplate, error) {
	data, err := normalize(s.raw[part])
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(data)
	if lt, ok := l.templates[key]; ok {
		return lt, nil
	}
	lt := &lintTemplate{file: s.files[part]}
	l.templates[key] = lt
	if l.cacheDir != "" {
		entry := sha256.Sum256(append(append(append([]byte{}, l.cacheKey...), 0), data...))
		lt.cached = filepath.Join(l.cacheDir, hex.EncodeToString(entry[:]))
		if _, err := os.Stat(lt.cached); err == nil {
			lt.batch = passedBefore
			return lt, nil
		}
	}
	l.pending = append(l.pending, lt)
	return lt, nil
}

// lintProcs is how many cfn-lint processes share what is left when the
// results are asked for (measured on 2 cores: two beat one once more than a
// handful of templates remain).
const lintProcs = 2

// results lints whatever of these synths is not linted yet and returns the
// cfn-lint runs that cover them, and a line on what was done.
func (l *linter) results(synths []*synth) ([]*lintBatch, string, error) {
	if l.bin == "" {
		return nil, "", fmt.Errorf("cfn-lint is required (pip install cfn-lint); .ci/run checks for it")
	}
	<-l.keyReady
	l.mu.Lock()
	var wanted []*lintTemplate
	for _, s := range synths {
		for _, part := range parts {
			lt, err := l.addLocked(s, part)
			if err != nil {
				l.mu.Unlock()
				return nil, "", err
			}
			wanted = append(wanted, lt)
		}
	}
	procs := lintProcs
	if len(l.pending) < 2*lintProcs {
		procs = 1 // a second start-up costs more than it saves
	}
	for i := 0; i < procs; i++ {
		l.startLocked(l.pending[i*len(l.pending)/procs : (i+1)*len(l.pending)/procs])
	}
	l.pending = nil
	l.mu.Unlock()

	seen := map[*lintBatch]bool{}
	var batches []*lintBatch
	distinct := map[*lintTemplate]bool{}
	var fromCache, processes int
	for _, lt := range wanted {
		<-lt.batch.done
		if !distinct[lt] && lt.batch.cached {
			fromCache++
		}
		distinct[lt] = true
		if !seen[lt.batch] {
			seen[lt.batch] = true
			batches = append(batches, lt.batch)
			if !lt.batch.cached {
				processes++
			}
		}
	}
	return batches, fmt.Sprintf("%d templates, %d distinct: %d linted now in %d cfn-lint processes, %d passed in an earlier run (cache)",
		len(wanted), len(distinct), len(distinct)-fromCache, processes, fromCache), nil
}

func (l *linter) startLocked(templates []*lintTemplate) {
	if len(templates) == 0 {
		return
	}
	b := &lintBatch{done: make(chan struct{})}
	var entries []string
	for _, lt := range templates {
		lt.batch = b
		b.files = append(b.files, lt.file)
		if lt.cached != "" {
			entries = append(entries, lt.cached)
		}
	}
	l.running++
	l.all.Add(1)
	go func() {
		defer l.all.Done()
		args := append([]string{"--config-file", l.config, "--format", "parseable"}, b.files...)
		out, err := exec.Command(l.bin, args...).CombinedOutput()
		b.out, b.err = strings.TrimSpace(string(out)), err
		if b.err == nil && b.out == "" {
			for _, entry := range entries {
				_ = os.WriteFile(entry, nil, 0o644) // a lost entry only costs a re-lint
			}
		}
		close(b.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.running--
		if l.background && l.running == 0 && len(l.pending) > 0 {
			l.startLocked(l.pending)
			l.pending = nil
		}
	}()
}

// wait lets running cfn-lint processes finish before their files go.
func (l *linter) wait() {
	l.mu.Lock()
	l.background = false
	l.mu.Unlock()
	l.all.Wait()
}
