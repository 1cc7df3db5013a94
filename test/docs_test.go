package test

// Docs checked like code (issue 17). Every shell block of README.md and
// docs/runbook.md (fenced ```sh, and inline code that starts with `aws `,
// `cdk ` or `npx `) is parsed with a real shell parser (mvdan.cc/sh) and:
//   - every `aws ...` call, including those inside $( ), <( ), pipes, loops
//     and xargs, is validated against the AWS CLI's service models by
//     test/awscli_check.py (botocore, one process per test run): operation,
//     options, required parameters, option values, --query as JMESPath, and
//     the keys of a jq object fed to --cli-input-json;
//   - procedures follow the rules an incident drill found broken (rules
//     below, each with a negative case in TestDocsRejectBrokenCommands);
//   - the fenced shell of each document passes shellcheck as one script;
//   - stack outputs, tsa-<env>-... names and log groups the docs mention
//     exist in the synthesized templates (TestDocumentedOutputsExist,
//     TestDocumentedNamesExist).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
	"mvdan.cc/sh/v3/syntax"
)

// docFiles are the documents whose commands are checked.
var docFiles = []string{"README.md", "docs/runbook.md"}

// shellBlock is one piece of shell the docs show.
type shellBlock struct {
	line    int // first line in the document
	section int // headings before it: a procedure's steps share one section
	source  string
	inline  bool
	file    *syntax.File
}

// shellWord is a word as the shell would build it: Text has parameter
// expansions as ${NAME} and command substitutions as $(...); Dynamic says it
// is not known before run time.
type shellWord struct {
	Text    string   `json:"text"`
	Dynamic bool     `json:"dynamic"`
	Params  []string `json:"-"`
}

// shellCall is one simple command of a block.
type shellCall struct {
	block    int
	section  int
	line     int
	words    []shellWord
	assignTo string // VAR when the command runs inside VAR=$(...)
}

// awsCall is an `aws ...` call as sent to the checker.
type awsCall struct {
	Args      []shellWord `json:"args"`
	Xargs     bool        `json:"xargs,omitempty"`
	InputKeys []string    `json:"inputKeys,omitempty"`
	call      *shellCall
	facts     map[string]any
	problems  []string
}

// checkedDoc is one markdown document with everything extracted from it.
type checkedDoc struct {
	name     string // file name or negative case name
	runbook  bool   // operations rules apply (live environments)
	text     string
	blocks   []shellBlock
	calls    []*shellCall
	aws      []*awsCall
	funcs    map[string]string // shell functions defined by the doc: name -> source
	jqFiles  map[string]string // file written by `jq PROGRAM > FILE` -> PROGRAM
	problems []string
}

func (d *checkedDoc) problemf(line int, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf("%s:%d: ", d.name, line)+fmt.Sprintf(format, args...))
}

// parseDoc extracts the shell of a markdown document.
func parseDoc(name, markdown string, runbook bool) *checkedDoc {
	d := &checkedDoc{name: name, runbook: runbook, text: markdown, funcs: map[string]string{}, jqFiles: map[string]string{}}
	src := []byte(markdown)
	lineOf := func(offset int) int { return bytes.Count(src[:offset], []byte("\n")) + 1 }
	root := goldmark.New().Parser().Parse(text.NewReader(src))
	section := 0
	_ = ast.Walk(root, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			section++
		case *ast.FencedCodeBlock:
			var body strings.Builder
			lines := n.Lines()
			for i := 0; i < lines.Len(); i++ {
				seg := lines.At(i)
				body.Write(seg.Value(src))
			}
			start := 1
			if lines.Len() > 0 {
				start = lineOf(lines.At(0).Start)
			}
			switch lang := string(n.Language(src)); lang {
			case "sh", "bash", "shell":
				d.blocks = append(d.blocks, shellBlock{line: start, section: section, source: body.String()})
			default:
				// Commands must not hide in blocks nobody checks.
				for i, l := range strings.Split(body.String(), "\n") {
					if f := strings.Fields(l); len(f) > 0 && (f[0] == "aws" || f[0] == "npx" || f[0] == "cdk" || f[0] == "$CDK") {
						d.problemf(start+i, "shell command in a code block not marked sh: %s", l)
					}
				}
			}
			return ast.WalkSkipChildren, nil
		case *ast.CodeSpan:
			var span strings.Builder
			for c := n.FirstChild(); c != nil; c = c.NextSibling() {
				if t, ok := c.(*ast.Text); ok {
					span.Write(t.Segment.Value(src))
				}
			}
			// CommonMark turns line endings inside a code span into spaces.
			s := strings.ReplaceAll(span.String(), "\n", " ")
			if strings.HasPrefix(s, "aws ") || strings.HasPrefix(s, "cdk ") || strings.HasPrefix(s, "npx ") {
				off := 0
				if t, ok := n.FirstChild().(*ast.Text); ok {
					off = t.Segment.Start
				}
				d.blocks = append(d.blocks, shellBlock{line: lineOf(off), section: section, source: s, inline: true})
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for i := range d.blocks {
		b := &d.blocks[i]
		f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(b.source), name)
		if err != nil {
			d.problemf(b.line, "does not parse as bash: %v", err)
			continue
		}
		b.file = f
		d.collect(i, b)
	}
	return d
}

// renderWord builds a word's text as the shell would, keeping expansions
// visible.
func renderWord(w *syntax.Word) shellWord {
	var out shellWord
	var parts func(ps []syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				out.Text += p.Value
			case *syntax.SglQuoted:
				out.Text += p.Value
			case *syntax.DblQuoted:
				parts(p.Parts)
			case *syntax.ParamExp:
				out.Dynamic = true
				out.Text += "${" + p.Param.Value + "}"
				out.Params = append(out.Params, p.Param.Value)
			case *syntax.CmdSubst, *syntax.ProcSubst:
				out.Dynamic = true
				out.Text += "$(...)"
			default:
				out.Dynamic = true
				out.Text += "?"
			}
		}
	}
	parts(w.Parts)
	return out
}

// collect records the block's simple commands, shell functions and jq
// outputs, in source order.
func (d *checkedDoc) collect(index int, b *shellBlock) {
	assigned := map[*syntax.CallExpr]string{}
	syntax.Walk(b.file, func(n syntax.Node) bool {
		if a, ok := n.(*syntax.Assign); ok && a.Value != nil {
			syntax.Walk(a.Value, func(m syntax.Node) bool {
				if c, ok := m.(*syntax.CallExpr); ok {
					assigned[c] = a.Name.Value
				}
				return true
			})
		}
		return true
	})
	syntax.Walk(b.file, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.FuncDecl:
			var buf bytes.Buffer
			_ = syntax.NewPrinter().Print(&buf, n)
			d.funcs[n.Name.Value] = buf.String()
		case *syntax.Stmt:
			call, ok := n.Cmd.(*syntax.CallExpr)
			if !ok || len(call.Args) == 0 || renderWord(call.Args[0]).Text != "jq" {
				return true
			}
			for _, r := range n.Redirs {
				if r.Op == syntax.RdrOut && r.Word != nil {
					d.jqFiles[renderWord(r.Word).Text] = jqProgram(call.Args[1:])
				}
			}
		case *syntax.CallExpr:
			if len(n.Args) == 0 {
				return true
			}
			c := &shellCall{block: index, section: b.section, line: b.line + int(n.Pos().Line()) - 1, assignTo: assigned[n]}
			for _, w := range n.Args {
				c.words = append(c.words, renderWord(w))
			}
			d.calls = append(d.calls, c)
		}
		return true
	})
}

// jqProgram returns the filter of a jq command line (its first argument that
// is neither an option nor an option's value).
func jqProgram(args []*syntax.Word) string {
	for i := 0; i < len(args); i++ {
		a := renderWord(args[i]).Text
		switch {
		case a == "--arg" || a == "--argjson" || a == "--slurpfile" || a == "--rawfile":
			i += 2
		case strings.HasPrefix(a, "-"):
		default:
			return a
		}
	}
	return ""
}

// splitTop splits s at sep where sep is outside brackets and strings.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	inString := false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case inString:
			if ch == '\\' {
				i++
			} else if ch == '"' {
				inString = false
			}
		case ch == '"':
			inString = true
		case ch == '(' || ch == '[' || ch == '{':
			depth++
		case ch == ')' || ch == ']' || ch == '}':
			depth--
		case ch == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// jqObjectKeys returns the keys of the object a jq filter builds last (the
// last pipeline stage that is an object literal), or nil.
func jqObjectKeys(program string) []string {
	var object string
	for _, stage := range splitTop(program, '|') {
		if s := strings.TrimSpace(stage); strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			object = s[1 : len(s)-1]
		}
	}
	if object == "" {
		return nil
	}
	var keys []string
	for _, entry := range splitTop(object, ',') {
		key := strings.TrimSpace(splitTop(entry, ':')[0])
		key = strings.TrimPrefix(strings.Trim(key, `"`), "$")
		if key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// awsCalls picks the `aws` calls out of a document's commands (direct, or
// run by xargs), and checks xargs's empty-input behaviour on the way.
func (d *checkedDoc) awsCalls() {
	for _, c := range d.calls {
		words := c.words
		xargs := false
		if words[0].Text == "xargs" {
			xargs = true
			i := 1
			runIfEmpty := true
			for ; i < len(words) && strings.HasPrefix(words[i].Text, "-"); i++ {
				if words[i].Text == "-r" || words[i].Text == "--no-run-if-empty" {
					runIfEmpty = false
				}
			}
			if i < len(words) && words[i].Text == "aws" && runIfEmpty {
				// GNU xargs runs the command once even without input.
				d.problemf(c.line, "xargs without -r runs `aws` with no arguments when the pipe is empty")
			}
			words = words[i:]
		}
		if len(words) == 0 || words[0].Text != "aws" || words[0].Dynamic {
			continue
		}
		a := &awsCall{Args: words[1:], Xargs: xargs, call: c}
		for i, w := range a.Args {
			if w.Text == "--cli-input-json" && i+1 < len(a.Args) {
				file := strings.TrimPrefix(a.Args[i+1].Text, "file://")
				program, ok := d.jqFiles[file]
				a.InputKeys = jqObjectKeys(program)
				if !ok || a.InputKeys == nil {
					d.problemf(c.line, "--cli-input-json %s is not written by a jq object literal in the docs, so its keys go unchecked", a.Args[i+1].Text)
				}
			}
		}
		d.aws = append(d.aws, a)
	}
}

// runAWSChecker sends every aws call of every document to the Python
// checker in one process and stores each call's problems and facts.
func runAWSChecker(t *testing.T, docs []*checkedDoc) {
	t.Helper()
	var calls []*awsCall
	for _, d := range docs {
		calls = append(calls, d.aws...)
	}
	in, err := json.Marshal(map[string]any{"commands": calls})
	require.NoError(t, err)
	cmd := exec.Command("python3", filepath.Join(root, "test", "awscli_check.py"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "test/awscli_check.py (needs botocore, which cfn-lint installs): %s", stderr.String())
	var resp struct {
		Botocore string `json:"botocore"`
		Results  []struct {
			Problems []string       `json:"problems"`
			Facts    map[string]any `json:"facts"`
		} `json:"results"`
	}
	require.NoError(t, json.Unmarshal(out, &resp))
	require.Len(t, resp.Results, len(calls))
	for i, c := range calls {
		c.problems, c.facts = resp.Results[i].Problems, resp.Results[i].Facts
	}
	for _, d := range docs {
		for _, a := range d.aws {
			for _, p := range a.problems {
				d.problemf(a.call.line, "aws %s: %s", wordsText(a.Args, 2), p)
			}
		}
	}
}

func wordsText(ws []shellWord, n int) string {
	var s []string
	for i, w := range ws {
		if i == n {
			break
		}
		s = append(s, w.Text)
	}
	return strings.Join(s, " ")
}

// option returns the values given to an option of a command (nil when
// absent; an empty non-nil slice for a flag).
func option(words []shellWord, names ...string) []shellWord {
	for i, w := range words {
		for _, name := range names {
			if w.Text == name {
				var vals []shellWord
				for _, v := range words[i+1:] {
					if strings.HasPrefix(v.Text, "-") {
						break
					}
					vals = append(vals, v)
				}
				return append([]shellWord{}, vals...)
			}
			if strings.HasPrefix(w.Text, name+"=") {
				return []shellWord{{Text: strings.TrimPrefix(w.Text, name+"="), Dynamic: w.Dynamic}}
			}
		}
	}
	return nil
}

// isOp reports whether an aws call runs `aws SERVICE OPERATION`.
func isOp(a *awsCall, service, op string) bool {
	return len(a.Args) >= 2 && a.Args[0].Text == service && a.Args[1].Text == op
}

// cdkCall returns the CDK CLI arguments of a command (after `aws-cdk@...`
// run by npx, after $CDK, or after `cdk`), or nil.
func cdkCall(words []shellWord) []shellWord {
	switch {
	case words[0].Text == "cdk" || words[0].Text == "${CDK}":
		return words[1:]
	case words[0].Text == "npx":
		for i, w := range words {
			if strings.HasPrefix(w.Text, "aws-cdk@") {
				return words[i+1:]
			}
		}
	}
	return nil
}

// cdkValueOptions are the CDK CLI options the docs use that take a value.
var cdkValueOptions = map[string]bool{"-c": true, "--context": true, "-o": true, "--output": true, "--require-approval": true, "--profile": true, "--app": true}

// checkCDK: a deploy of named stacks deploys their dependencies too unless
// --exclusively (https://docs.aws.amazon.com/cdk/v2/guide/ref-cli-cmd-deploy.html);
// in the runbook a compute deploy also pins the image (-c imageTag=), or it
// rebuilds apps/backend from the operator's checkout.
func (d *checkedDoc) checkCDK() {
	for _, c := range d.calls {
		args := cdkCall(c.words)
		if len(args) == 0 || args[0].Text != "deploy" {
			continue
		}
		var stacks []string
		exclusive, all, imageTag := false, false, false
		for i := 1; i < len(args); i++ {
			a := args[i].Text
			switch {
			case a == "-e" || a == "--exclusively":
				exclusive = true
			case a == "--all":
				all = true
			case cdkValueOptions[a]:
				if i+1 < len(args) && strings.HasPrefix(args[i+1].Text, "imageTag=") {
					imageTag = true
				}
				i++
			case strings.HasPrefix(a, "-"):
			default:
				stacks = append(stacks, a)
			}
		}
		if all || len(stacks) == 0 {
			continue
		}
		if !exclusive {
			d.problemf(c.line, "`cdk deploy %s` also deploys the stacks it depends on: add --exclusively", strings.Join(stacks, " "))
		}
		for _, s := range stacks {
			if d.runbook && strings.HasSuffix(s, "-compute") && !imageTag {
				d.problemf(c.line, "`cdk deploy %s` without -c imageTag= rebuilds apps/backend from the local checkout: deploy the environment's live or previous tag", s)
			}
		}
	}
}

// checkProcedures applies the rules the incident drill found broken. They
// look at calls in source order within one section: a procedure's numbered
// steps may spread over several code blocks under one heading.
func (d *checkedDoc) checkProcedures() {
	bySection := map[int][]*awsCall{}
	for _, a := range d.aws {
		bySection[a.call.section] = append(bySection[a.call.section], a)
	}
	registered := map[string]bool{} // variables holding a task definition registered in the docs
	var restores, reapplied []*awsCall
	sections := make([]int, 0, len(bySection))
	for s := range bySection {
		sections = append(sections, s)
	}
	sort.Ints(sections)
	for _, sec := range sections {
		calls := bySection[sec]
		renamedTo := map[string]bool{}
		stopped, suspended := false, false
		for i, a := range calls {
			switch {
			case isOp(a, "cloudformation", "detect-stack-drift"):
				// Detection only starts a run; drift is reported by the two
				// calls after it.
				var status, drifts bool
				for _, later := range calls[i+1:] {
					status = status || isOp(later, "cloudformation", "describe-stack-drift-detection-status")
					drifts = drifts || isOp(later, "cloudformation", "describe-stack-resource-drifts")
				}
				if !status || !drifts {
					d.problemf(a.call.line, "detect-stack-drift only starts a detection: wait for describe-stack-drift-detection-status and list describe-stack-resource-drifts")
				}
			case isOp(a, "ecs", "register-task-definition") && a.call.assignTo != "":
				registered[a.call.assignTo] = true
			case isOp(a, "ecs", "update-service"):
				if td := option(a.Args, "--task-definition"); td != nil {
					ok := len(td) == 1 && len(td[0].Params) > 0
					for _, p := range td[0].Params {
						ok = ok && registered[p]
					}
					if !ok && len(td) > 0 {
						// CloudFormation deregisters replaced revisions, and ECS
						// refuses INACTIVE ones for a service update
						// (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deregister-task-definition-v2.html).
						d.problemf(a.call.line, "update-service --task-definition %s: only a revision registered in the same procedure is known to be ACTIVE", td[0].Text)
					}
				}
				if dc := option(a.Args, "--desired-count"); len(dc) == 1 {
					switch {
					case dc[0].Text == "0":
						if !suspended {
							d.problemf(a.call.line, "desired count 0 while auto scaling may still put tasks back: suspend scaling (register-scalable-target --suspended-state, --min-capacity 0) first")
						}
						stopped = true
					case stopped && !dc[0].Dynamic:
						d.problemf(a.call.line, "desired count %s is hard-coded: restore the count recorded before the stop", dc[0].Text)
					}
				}
			case isOp(a, "application-autoscaling", "register-scalable-target"):
				if s := option(a.Args, "--suspended-state"); len(s) == 1 && strings.Contains(s[0].Text, "=true") {
					suspended = true
				}
				if m := option(a.Args, "--min-capacity"); len(m) == 1 && m[0].Text == "0" {
					suspended = true
				}
			case isOp(a, "rds", "modify-db-instance"):
				if n := option(a.Args, "--new-db-instance-identifier"); len(n) == 1 {
					renamedTo[n[0].Text] = true
				}
				reapplied = append(reapplied, a)
			case isOp(a, "rds", "describe-db-instances"):
				if id := option(a.Args, "--db-instance-identifier"); len(id) == 1 {
					delete(renamedTo, id[0].Text) // polled: the rename is waited for
				}
			case len(a.Args) > 2 && a.Args[0].Text == "rds" && a.Args[1].Text == "wait":
				id := option(a.Args, "--db-instance-identifier")
				if stops, _ := a.facts["waiterStopsOnError"].(bool); stops && len(id) == 1 && renamedTo[id[0].Text] {
					d.problemf(a.call.line, "rds wait %s --db-instance-identifier %s right after renaming into it: the rename is asynchronous and this waiter stops at the first DBInstanceNotFound; poll describe-db-instances until the new name is available", a.Args[2].Text, id[0].Text)
				}
			case strings.HasPrefix(wordsText(a.Args, 2), "rds restore-db-instance-"):
				restores = append(restores, a)
			}
		}
		if suspended {
			resumed := false
			for _, a := range calls {
				if s := option(a.Args, "--suspended-state"); isOp(a, "application-autoscaling", "register-scalable-target") && len(s) == 1 && strings.Contains(s[0].Text, "=false") {
					resumed = true
				}
			}
			if !resumed {
				d.problemf(calls[0].call.line, "the procedure suspends auto scaling and never resumes it")
			}
		}
	}
	// A restored instance does not get the template's settings (monitoring,
	// log exports, ...) from a stack whose template did not change: the
	// procedure reapplies them.
	if len(restores) > 0 {
		sets := map[string]bool{}
		for _, a := range reapplied {
			for _, k := range a.InputKeys {
				sets[k] = true
			}
			for _, w := range a.Args {
				sets[strings.TrimPrefix(w.Text, "--")] = true
			}
		}
		for _, want := range [][2]string{{"MonitoringInterval", "monitoring-interval"}, {"CloudwatchLogsExportConfiguration", "cloudwatch-logs-export-configuration"}, {"BackupRetentionPeriod", "backup-retention-period"}, {"EnablePerformanceInsights", "enable-performance-insights"}} {
			if !sets[want[0]] && !sets[want[1]] {
				d.problemf(restores[0].call.line, "the restore never reapplies %s to the restored instance (a cdk deploy of an unchanged template does not)", want[0])
			}
		}
	}
}

// Sample PostgreSQL log lines in RDS's log_line_prefix (%t:%r:%u@%d:[%p]:),
// with the messages log_connections, log_disconnections and
// log_min_duration_statement write (PostgreSQL "Error Reporting and
// Logging"; the data stack's parameter group turns all three on).
var postgresLogLines = map[string]string{
	"connection":    "2026-11-28 09:30:00 UTC:10.10.1.23(51234):tsa@tsa:[4242]:LOG:  connection authorized: user=tsa database=tsa application_name=tsa-api SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)",
	"disconnection": "2026-11-28 09:31:00 UTC:10.10.1.23(51234):tsa@tsa:[4242]:LOG:  disconnection: session time: 0:01:00.123 user=tsa database=tsa host=10.10.1.23 port=51234",
	"slow query":    "2026-11-28 09:30:05 UTC:10.10.1.23(51234):tsa@tsa:[4242]:LOG:  duration: 1532.112 ms  statement: SELECT count(*) FROM readings",
}

// filterMatches applies a CloudWatch Logs filter pattern for unstructured
// events: terms (case-sensitive, "quoted" when they hold spaces or symbols)
// must all occur, ?terms need any one to occur, -terms must not occur
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
func filterMatches(pattern, line string) bool {
	var all, any, none []string
	for _, m := range regexp.MustCompile(`([?-]?)("[^"]*"|\S+)`).FindAllStringSubmatch(pattern, -1) {
		term := strings.Trim(m[2], `"`)
		switch m[1] {
		case "?":
			any = append(any, term)
		case "-":
			none = append(none, term)
		default:
			all = append(all, term)
		}
	}
	for _, t := range all {
		if !strings.Contains(line, t) {
			return false
		}
	}
	for _, t := range none {
		if strings.Contains(line, t) {
			return false
		}
	}
	if len(any) == 0 {
		return true
	}
	for _, t := range any {
		if strings.Contains(line, t) {
			return true
		}
	}
	return false
}

// checkPostgresLogFilters: the runbook's filters on the PostgreSQL log catch
// slow statements and connection churn.
func (d *checkedDoc) checkPostgresLogFilters() {
	var patterns []string
	line := 0
	for _, a := range d.aws {
		if isOp(a, "logs", "tail") && len(a.Args) > 2 && strings.HasPrefix(a.Args[2].Text, "/aws/rds/instance/") && strings.HasSuffix(a.Args[2].Text, "/postgresql") {
			line = a.call.line
			if p := option(a.Args, "--filter-pattern"); len(p) == 1 {
				patterns = append(patterns, p[0].Text)
			}
		}
	}
	if line == 0 {
		return
	}
	for _, kind := range []string{"slow query", "connection", "disconnection"} {
		found := false
		for _, p := range patterns {
			found = found || filterMatches(p, postgresLogLines[kind])
		}
		if !found {
			d.problemf(line, "no filter on the PostgreSQL log matches a %s line (patterns %q)", kind, patterns)
		}
	}
}

// checkOutputHelper runs the runbook's out() with a stand-in aws that
// answers as the CLI does for a missing output ("None" for a null --query
// result, nothing for an empty list, an error status for a missing stack):
// each must fail the helper, and a real value must pass through.
func (d *checkedDoc) checkOutputHelper() {
	fn, ok := d.funcs["out"]
	if !ok {
		if d.name == "docs/runbook.md" {
			d.problemf(1, "the runbook defines no out() helper")
		}
		return
	}
	for _, c := range []struct {
		stub    string
		wantOut string
		wantOK  bool
	}{
		{`echo None`, "", false},
		{`echo`, "", false},
		{`echo "An error occurred (ValidationError): Stack with id tsa-dev-compute does not exist" >&2; return 254`, "", false},
		{`echo tsa-dev-Cluster-Abc`, "tsa-dev-Cluster-Abc\n", true},
	} {
		script := fmt.Sprintf("aws() { %s; }\n%s\nENV=dev\nout compute ClusterName\n", c.stub, fn)
		cmd := exec.Command("bash", "-c", script)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		err := cmd.Run()
		if (err == nil) != c.wantOK || stdout.String() != c.wantOut {
			d.problemf(1, "out() with aws answering `%s`: status ok=%v, stdout %q; want ok=%v, stdout %q", c.stub, err == nil, stdout.String(), c.wantOK, c.wantOut)
		}
	}
}

// checkDocs runs every check of this file on the documents; the aws calls of
// all of them go to one checker process.
func checkDocs(t *testing.T, docs []*checkedDoc) {
	t.Helper()
	for _, d := range docs {
		d.awsCalls()
	}
	runAWSChecker(t, docs)
	for _, d := range docs {
		d.checkCDK()
		d.checkProcedures()
		d.checkPostgresLogFilters()
		d.checkOutputHelper()
	}
}

var realDocs []*checkedDoc

// docsChecked parses and checks README.md and the runbook, together with
// the negative cases, once per test binary.
func docsChecked(t *testing.T) []*checkedDoc {
	t.Helper()
	if realDocs != nil {
		return realDocs
	}
	var docs []*checkedDoc
	for _, name := range docFiles {
		data, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err)
		docs = append(docs, parseDoc(name, string(data), name == "docs/runbook.md"))
	}
	for _, c := range brokenCommands {
		docs = append(docs, parseDoc(c.name, c.markdown, c.runbook))
	}
	checkDocs(t, docs)
	shellcheckDocs(t, docs[:len(docFiles)])
	realDocs = docs
	return docs
}

// shellcheckDocs lints the fenced shell of each document as one bash script
// (blocks in order, so variables set in one block are known in the next),
// all documents in one shellcheck process. It runs with TSA_SHELLCHECK=on,
// which .ci/run sets after installing shellcheck: `go test ./...` on a fresh
// machine needs no binary beyond Go, Node.js and cfn-lint, and parses the
// same shell with mvdan.cc/sh either way (parseDoc).
func shellcheckDocs(t *testing.T, docs []*checkedDoc) {
	t.Helper()
	if os.Getenv("TSA_SHELLCHECK") != "on" {
		return
	}
	dir := t.TempDir()
	type origin struct {
		doc  *checkedDoc
		line int // document line of each script line
	}
	lines := map[string][]origin{}
	var files []string
	for i, d := range docs {
		file := filepath.Join(dir, fmt.Sprintf("doc%d.sh", i))
		script := []string{"# shellcheck shell=bash"}
		origins := []origin{{d, 1}}
		for _, b := range d.blocks {
			if b.inline {
				continue
			}
			for j, l := range strings.Split(strings.TrimSuffix(b.source, "\n"), "\n") {
				script = append(script, l)
				origins = append(origins, origin{d, b.line + j})
			}
		}
		require.NoError(t, os.WriteFile(file, []byte(strings.Join(script, "\n")+"\n"), 0o644))
		lines[file] = origins
		files = append(files, file)
	}
	out, err := exec.Command("shellcheck", append([]string{"--format=gcc", "--severity=info"}, files...)...).Output()
	if _, failed := err.(*exec.ExitError); err != nil && !failed {
		require.NoError(t, err, "TSA_SHELLCHECK=on needs shellcheck on the PATH (apt-get install shellcheck)")
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// FILE:LINE:COLUMN: LEVEL: MESSAGE [SCxxxx]
		parts := strings.SplitN(l, ":", 4)
		if len(parts) < 4 {
			continue
		}
		var n int
		fmt.Sscan(parts[1], &n)
		if o := lines[parts[0]]; n >= 1 && n <= len(o) {
			o[n-1].doc.problemf(o[n-1].line, "shellcheck:%s", parts[3])
		}
	}
}

// TestDocsCommands: every command of the README and the runbook passes every
// check.
func TestDocsCommands(t *testing.T) {
	docs := docsChecked(t)
	for _, d := range docs[:len(docFiles)] {
		assert.NotEmpty(t, d.aws, "%s shows aws commands", d.name)
		assert.Empty(t, d.problems, "%s", d.name)
	}
}

// brokenCommands are the commands an incident drill found broken (issue
// 17), each with the problem the checks must report if it came back.
var brokenCommands = []struct {
	name, markdown string
	runbook        bool
	want           string
}{
	{"storage grown without an instance", "Grow it with `aws rds modify-db-instance --allocated-storage 100 --apply-immediately`.", true,
		"missing required --db-instance-identifier"},
	{"integer placeholder", "Grow it with `aws rds modify-db-instance --db-instance-identifier \"$DB\" --allocated-storage N --apply-immediately`.", true,
		"--allocated-storage takes an integer"},
	{"drift detection only started", "```sh\naws cloudformation detect-stack-drift --stack-name tsa-$ENV-data\n```\n", true,
		"detect-stack-drift only starts a detection"},
	{"stopped tasks with xargs and no -r", "```sh\naws ecs list-tasks --cluster \"$CLUSTER\" --service-name \"$SERVICE\" --desired-status STOPPED --query \"taskArns[:5]\" --output text \\\n  | xargs aws ecs describe-tasks --cluster \"$CLUSTER\" --tasks\n```\n", true,
		"xargs without -r"},
	{"frontend deploy includes its dependencies", "```sh\nnpx --yes aws-cdk@2.1148.1 deploy -c env=dev tsa-dev-frontend\n```\n", false,
		"also deploys the stacks it depends on"},
	{"compute deploy rebuilds from the checkout", "```sh\nnpx --yes aws-cdk@2.1148.1 deploy -c env=$ENV --exclusively tsa-$ENV-compute\n```\n", true,
		"without -c imageTag="},
	{"service pointed at a deregistered revision", "```sh\nFAMILY=$(aws ecs describe-services --cluster \"$CLUSTER\" --services \"$SERVICE\" --query \"services[0].taskDefinition\" --output text | sed 's#.*/##; s#:[0-9]*$##')\naws ecs list-task-definitions --family-prefix \"$FAMILY\" --sort DESC --max-items 3\naws ecs update-service --cluster \"$CLUSTER\" --service \"$SERVICE\" --task-definition \"$FAMILY:$PREVIOUS_REVISION\"\n```\n", true,
		"only a revision registered in the same procedure is known to be ACTIVE"},
	{"swap with scaling still on", "```sh\naws ecs update-service --cluster \"$CLUSTER\" --service \"$SERVICE\" --desired-count 0\n```\n", true,
		"suspend scaling"},
	{"waiting on the new name at once", "```sh\naws rds modify-db-instance --db-instance-identifier \"$DB\" --new-db-instance-identifier \"$DB-old\" --apply-immediately\naws rds wait db-instance-available --db-instance-identifier \"$DB-old\"\n```\n", true,
		"the rename is asynchronous"},
	{"hard-coded desired count", "```sh\naws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id \"service/$CLUSTER/$SERVICE\" --min-capacity 0 --suspended-state DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true\naws ecs update-service --cluster \"$CLUSTER\" --service \"$SERVICE\" --desired-count 0\naws ecs update-service --cluster \"$CLUSTER\" --service \"$SERVICE\" --desired-count 2\n```\n", true,
		"desired count 2 is hard-coded"},
	{"scaling never resumed", "```sh\naws application-autoscaling register-scalable-target --service-namespace ecs --scalable-dimension ecs:service:DesiredCount --resource-id \"service/$CLUSTER/$SERVICE\" --suspended-state DynamicScalingInSuspended=true,DynamicScalingOutSuspended=true,ScheduledScalingSuspended=true\n```\n", true,
		"never resumes it"},
	{"restore relies on an unchanged template", "```sh\naws rds restore-db-instance-from-db-snapshot --db-instance-identifier \"$DB-restore\" --db-snapshot-identifier \"$SNAPSHOT\"\nnpx --yes aws-cdk@2.1148.1 deploy -c env=$ENV --exclusively tsa-$ENV-data\n```\n", true,
		"never reapplies MonitoringInterval"},
	{"output helper silent on a missing key", "```sh\nout() {    # out <stack part> <output key>\n  aws cloudformation describe-stacks --stack-name \"tsa-$ENV-$1\" \\\n    --query \"Stacks[0].Outputs[?OutputKey=='$2'].OutputValue\" --output text\n}\n```\n", true,
		"out() with aws answering `echo None`"},
	{"connection churn filter catches only slow queries", "```sh\naws logs tail \"/aws/rds/instance/$DB/postgresql\" --since 1h --filter-pattern duration\n```\n", true,
		"matches a connection line"},
	{"unknown option", "```sh\naws ecs describe-services --cluster \"$CLUSTER\" --service \"$SERVICE\"\n```\n", true,
		"unknown option --service"},
	{"unknown waiter", "```sh\naws rds wait db-instance-renamed --db-instance-identifier \"$DB\"\n```\n", true,
		"has no waiter 'db-instance-renamed'"},
	{"query that is not JMESPath", "```sh\naws ecs describe-services --cluster \"$CLUSTER\" --services \"$SERVICE\" --query \"services[0].deployments[\"\n```\n", true,
		"is not JMESPath"},
	{"cli-input-json key of another operation", "```sh\njq '{DBInstanceClass, MonitoringInterval, EnabledCloudwatchLogsExports}' /tmp/db-live.json > /tmp/db-settings.json\naws rds modify-db-instance --db-instance-identifier \"$DB\" --cli-input-json file:///tmp/db-settings.json\n```\n", true,
		"key EnabledCloudwatchLogsExports is not a parameter of ModifyDBInstance"},
	{"command in an unchecked block", "```\naws ecs describe-services --cluster x\n```\n", true,
		"code block not marked sh"},
}

// TestDocsRejectBrokenCommands: each broken command, put back, fails the
// checks with its reason.
func TestDocsRejectBrokenCommands(t *testing.T) {
	docs := docsChecked(t)
	for i, c := range brokenCommands {
		d := docs[len(docFiles)+i]
		assert.True(t, containsProblem(d.problems, c.want), "%s: want a problem containing %q, got %q", c.name, c.want, d.problems)
	}
}

func containsProblem(problems []string, want string) bool {
	for _, p := range problems {
		if strings.Contains(p, want) {
			return true
		}
	}
	return false
}

// serviceLogGroups are log groups an AWS service creates itself, outside
// any stack, that the docs may name.
var serviceLogGroups = map[string]string{
	`^/aws/ecs/containerinsights/[^/]+/performance$`: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Container-Insights-reference-performance-logs-ECS.html",
	`^/aws/lambda/`: "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html",
}

// TestDocumentedNamesExist: the tsa-<env>-... names (stacks, alarms, topic,
// key alias, database) and the /aws/... log groups the docs mention exist in
// the synthesized templates, or are log groups an AWS service creates.
func TestDocumentedNamesExist(t *testing.T) {
	known := map[string]bool{}
	var logGroups []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if m := regexp.MustCompile(`^(?:alias/)?tsa-(?:dev|prod)-([a-z0-9-]+)$`).FindStringSubmatch(v); m != nil {
				known[m[1]] = true
			}
		}
	}
	for _, s := range docSynths(t) {
		for _, part := range s.parts() {
			known[part] = true
			walk(s.raw[part]["Resources"])
			for _, g := range resources(s.raw[part], "AWS::Logs::LogGroup") {
				if name, ok := props(g)["LogGroupName"].(string); ok {
					logGroups = append(logGroups, name)
				}
			}
		}
	}
	mention := regexp.MustCompile(`tsa-(?:<env>|\$ENV|\$\{ENV\}|ENV|dev|prod)-([a-z0-9-]*[a-z0-9])`)
	logGroup := regexp.MustCompile("(?:^|[\\s\"'`(])(/aws/(?:[A-Za-z0-9._/<>-]|\\$\\([^)]*\\)|\\$\\{?[A-Za-z_][A-Za-z0-9_]*\\}?)+)")
	expansion := regexp.MustCompile(`\$\([^)]*\)|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^>]+>`)
	for _, d := range docsChecked(t)[:len(docFiles)] {
		for _, m := range mention.FindAllStringSubmatch(d.text, -1) {
			assert.True(t, known[m[1]], "%s names %s, which no template defines", d.name, m[0])
		}
		for _, m := range logGroup.FindAllStringSubmatch(d.text, -1) {
			name := strings.TrimRight(m[1], ".-")
			// A path segment with a variable in it stands for any segment.
			segments := strings.Split(name, "/")
			for i, seg := range segments {
				if expansion.MatchString(seg) {
					segments[i] = "[^/]+"
				} else {
					segments[i] = regexp.QuoteMeta(seg)
				}
			}
			pattern := regexp.MustCompile("^" + strings.Join(segments, "/") + "$")
			found := false
			for _, g := range logGroups {
				found = found || pattern.MatchString(g)
			}
			for svc := range serviceLogGroups {
				found = found || regexp.MustCompile(svc).MatchString(name)
			}
			assert.True(t, found, "%s names log group %s, which no template creates and no AWS service is listed to create", d.name, name)
		}
	}
}
