package test

import (
	"crypto/sha256"
	"fmt"
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
type linter struct {
	bin, config string
	background  bool // lint while the tests run (only when TestCfnLint will run)

	mu        sync.Mutex
	templates map[[sha256.Size]byte]*lintTemplate
	pending   []*lintTemplate
	running   int
	all       sync.WaitGroup
}

// lintTemplate is one distinct template and the cfn-lint run that covers it.
type lintTemplate struct {
	file  string // the first synthesized file with this content
	batch *lintBatch
}

// lintBatch is one cfn-lint process over several templates.
type lintBatch struct {
	files []string
	done  chan struct{}
	out   string
	err   error
}

func newLinter(root string, background bool) *linter {
	l := &linter{config: filepath.Join(root, ".cfnlintrc.yaml"), templates: map[[sha256.Size]byte]*lintTemplate{}}
	if bin, err := exec.LookPath("cfn-lint"); err == nil {
		l.bin, l.background = bin, background
	}
	return l
}

// add registers the templates of a synth; in the background mode it starts
// a cfn-lint process on whatever is pending if none is running.
func (l *linter) add(s *synth) error {
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
	l.pending = append(l.pending, lt)
	return lt, nil
}

// lintProcs is how many cfn-lint processes share what is left when the
// results are asked for (measured on 2 cores: two beat one once more than a
// handful of templates remain).
const lintProcs = 2

// results lints whatever of these synths is not linted yet and returns the
// cfn-lint runs that cover them, plus the count of distinct templates.
func (l *linter) results(synths []*synth) ([]*lintBatch, int, error) {
	if l.bin == "" {
		return nil, 0, fmt.Errorf("cfn-lint is required (pip install cfn-lint); .ci/run checks for it")
	}
	l.mu.Lock()
	var wanted []*lintTemplate
	for _, s := range synths {
		for _, part := range parts {
			lt, err := l.addLocked(s, part)
			if err != nil {
				l.mu.Unlock()
				return nil, 0, err
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
	for _, lt := range wanted {
		distinct[lt] = true
		<-lt.batch.done
		if !seen[lt.batch] {
			seen[lt.batch] = true
			batches = append(batches, lt.batch)
		}
	}
	return batches, len(distinct), nil
}

func (l *linter) startLocked(templates []*lintTemplate) {
	if len(templates) == 0 {
		return
	}
	b := &lintBatch{done: make(chan struct{})}
	for _, lt := range templates {
		lt.batch = b
		b.files = append(b.files, lt.file)
	}
	l.running++
	l.all.Add(1)
	go func() {
		defer l.all.Done()
		args := append([]string{"--config-file", l.config, "--format", "parseable"}, b.files...)
		out, err := exec.Command(l.bin, args...).CombinedOutput()
		b.out, b.err = strings.TrimSpace(string(out)), err
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
