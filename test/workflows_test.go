package test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tsa-platform/infra/config"
)

// The workflows in .github/workflows are checked like code: actionlint
// (as a library, so a fresh machine needs nothing installed; it runs
// shellcheck on the run: scripts when shellcheck is on the PATH), every
// action pinned by commit, minimal permissions, one deploy of an
// environment at a time, and the roles and GitHub environments they use
// are the ones the CI stack trusts.

type workflow struct {
	file string
	text string
	ast  *actionlint.Workflow
}

func workflows(t *testing.T) []workflow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.yml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []workflow
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		ast, errs := actionlint.Parse(data)
		require.Empty(t, errs, "%s does not parse", f)
		out = append(out, workflow{file: filepath.Base(f), text: string(data), ast: ast})
	}
	return out
}

func byFile(t *testing.T, name string) workflow {
	t.Helper()
	for _, w := range workflows(t) {
		if w.file == name {
			return w
		}
	}
	t.Fatalf("no workflow %s", name)
	return workflow{}
}

func TestWorkflowsPassActionlint(t *testing.T) {
	shellcheck, _ := exec.LookPath("shellcheck") // optional: actionlint skips it when empty
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Shellcheck: shellcheck})
	require.NoError(t, err)
	errs, err := linter.LintRepository(root)
	require.NoError(t, err)
	assert.Empty(t, errs, "actionlint:\n%s", out.String())
	t.Logf("actionlint checked %d workflows (shellcheck: %q)", len(workflows(t)), shellcheck)

	// The linter is really at work: a broken workflow fails it.
	out.Reset()
	errs, err = linter.Lint("broken.yml", []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ secret.TOKEN }}\n"), nil)
	require.NoError(t, err)
	assert.NotEmpty(t, errs, "actionlint finds nothing wrong in a broken workflow")
}

// TestShellScriptsPassShellcheck: the scripts the workflows run.
func TestShellScriptsPassShellcheck(t *testing.T) {
	scripts, _ := filepath.Glob(filepath.Join(root, ".github", "scripts", "*.sh"))
	require.NotEmpty(t, scripts)
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed (.ci/run installs it)")
	}
	out, err := exec.Command(shellcheck, scripts...).CombinedOutput()
	assert.NoError(t, err, "%s", out)
}

var pinned = regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(/[A-Za-z0-9_./-]+)?@([0-9a-f]{40})$`)

// TestActionsArePinnedByCommit: a tag can be moved to other code; a commit
// cannot. Each uses: names a 40-hex commit with its release in a comment,
// and one action is pinned to one commit everywhere.
func TestActionsArePinnedByCommit(t *testing.T) {
	commits := map[string]string{}
	var count int
	for _, w := range workflows(t) {
		lines := strings.Split(w.text, "\n")
		for _, job := range w.ast.Jobs {
			if job.WorkflowCall != nil {
				t.Errorf("%s: job %s calls a reusable workflow; pin it by commit and add it here", w.file, job.ID.Value)
			}
			for _, step := range job.Steps {
				action, ok := step.Exec.(*actionlint.ExecAction)
				if !ok {
					continue
				}
				count++
				uses := action.Uses.Value
				mt := pinned.FindStringSubmatch(uses)
				if !assert.NotNil(t, mt, "%s: %s is not pinned to a commit SHA", w.file, uses) {
					continue
				}
				line := lines[action.Uses.Pos.Line-1]
				assert.Regexp(t, `@[0-9a-f]{40} # v\d+\.\d+\.\d+$`, line, "%s:%d: the release the commit is goes in a trailing comment", w.file, action.Uses.Pos.Line)
				if prev, seen := commits[mt[1]]; seen {
					assert.Equal(t, prev, mt[3], "%s: %s is pinned to two commits", w.file, mt[1])
				}
				commits[mt[1]] = mt[3]
			}
		}
	}
	assert.Greater(t, count, 20)
}

// TestWorkflowPermissions: nothing by default; each job asks for what it
// needs: id-token only where it assumes an AWS role, pull-requests: write
// only where it comments.
func TestWorkflowPermissions(t *testing.T) {
	for _, w := range workflows(t) {
		if p := w.ast.Permissions; assert.NotNil(t, p, "%s: permissions: {} at the top", w.file) {
			assert.Nil(t, p.All, w.file)
			assert.Empty(t, p.Scopes, "%s: the workflow grants nothing; its jobs do", w.file)
		}
		for id, job := range w.ast.Jobs {
			where := w.file + " job " + id
			require.NotNil(t, job.Permissions, "%s declares its permissions", where)
			assert.Nil(t, job.Permissions.All, "%s: no read-all/write-all", where)
			scopes := map[string]string{}
			for name, s := range job.Permissions.Scopes {
				scopes[name] = s.Value.Value
			}
			assert.Equal(t, "read", scopes["contents"], where)
			assumes := len(roles(job)) > 0
			if assumes {
				assert.Equal(t, "write", scopes["id-token"], "%s assumes an AWS role with an OIDC token", where)
			} else {
				assert.NotContains(t, scopes, "id-token", where)
			}
			comments := strings.Contains(runs(job), "gh pr comment")
			for name, v := range scopes {
				switch {
				case name == "contents" || (name == "id-token" && assumes):
				case name == "pull-requests" && v == "write" && comments:
				default:
					t.Errorf("%s asks for %s: %s, which it does not use", where, name, v)
				}
			}
		}
	}
}

// role is one configure-aws-credentials step: the role's name and the
// expression that gives its account.
type role struct{ name, account string }

var roleArn = regexp.MustCompile(`^arn:aws:iam::\$\{\{ *([^}]+?) *\}\}:role/(tsa-ci-[a-z]+)$`)

func roles(job *actionlint.Job) []role {
	var out []role
	for _, step := range job.Steps {
		a, ok := step.Exec.(*actionlint.ExecAction)
		if !ok || !strings.HasPrefix(a.Uses.Value, "aws-actions/configure-aws-credentials@") {
			continue
		}
		r := role{}
		if in, ok := a.Inputs["role-to-assume"]; ok {
			if mt := roleArn.FindStringSubmatch(in.Value.Value); mt != nil {
				r = role{name: mt[2], account: mt[1]}
			} else {
				r = role{name: in.Value.Value}
			}
		}
		out = append(out, r)
	}
	return out
}

func runs(job *actionlint.Job) string {
	var b strings.Builder
	for _, step := range job.Steps {
		if r, ok := step.Exec.(*actionlint.ExecRun); ok {
			b.WriteString(r.Run.Value + "\n")
		}
	}
	return b.String()
}

// accountVar is the repository variable holding an account's ID.
func accountVar(account string) string {
	return "vars.AWS_ACCOUNT_" + strings.ToUpper(strings.ReplaceAll(account, "-", "_"))
}

// TestWorkflowsUseTheRolesTheCIStackTrusts: a job can assume a role only if
// its OIDC subject is one the role trusts. Deploy and smoke jobs run in the
// GitHub environment of what they deploy (dev, prod, pr-stages), in the
// account cdk.json puts it in; diff jobs run in no GitHub environment (a
// pull request's subject), one per environment with CI.
func TestWorkflowsUseTheRolesTheCIStackTrusts(t *testing.T) {
	gh := ciVariants(t)["nonprod"].cfg.GitHub
	accountOf := map[string]string{}
	for name, a := range gh.Accounts {
		for _, env := range a.Environments {
			accountOf[env] = name
		}
		if a.Stages {
			accountOf[config.StagesGitHubEnvironment] = name
		}
	}
	var deployJobs int
	for _, w := range workflows(t) {
		for id, job := range w.ast.Jobs {
			where := w.file + " job " + id
			for _, r := range roles(job) {
				switch r.name {
				case config.CIDeployRoleName, config.CISmokeRoleName:
					deployJobs++
					require.NotNil(t, job.Environment, "%s assumes %s, which trusts GitHub environments only", where, r.name)
					envName := job.Environment.Name.Value
					if envName == "${{ inputs.environment }}" {
						assert.Equal(t, "steps.account.outputs.id", r.account, where)
						continue // redeploy.yml: TestRedeployChoosesAnEnvironmentWithCI
					}
					account, ok := accountOf[envName]
					if assert.True(t, ok, "%s runs in GitHub environment %q, which no CI account trusts", where, envName) {
						assert.Equal(t, accountVar(account), r.account, "%s: %s is in account %s", where, envName, account)
					}
				case config.CIDiffRoleName:
					assert.Nil(t, job.Environment, "%s: the diff role trusts pull_request subjects, which a GitHub environment would replace", where)
				default:
					t.Errorf("%s assumes %q; the CI stack has %s, %s and %s", where, r.name, config.CIDeployRoleName, config.CIDiffRoleName, config.CISmokeRoleName)
				}
			}
		}
	}
	assert.GreaterOrEqual(t, deployJobs, 6)

	// The diff matrix covers every environment with CI, in its account.
	diff := byFile(t, "pull-request.yml").ast.Jobs["diff"]
	require.NotNil(t, diff)
	got := map[string]string{}
	for _, c := range diff.Strategy.Matrix.Include.Combinations {
		env := c.Assigns["env"].Value.(*actionlint.RawYAMLString).Value
		got[env] = strings.Trim(strings.TrimSpace(strings.Trim(c.Assigns["account"].Value.(*actionlint.RawYAMLString).Value, "${}")), " ")
	}
	want := map[string]string{}
	for env, account := range accountOf {
		if env != config.StagesGitHubEnvironment {
			want[env] = accountVar(account)
		}
	}
	assert.Equal(t, want, got, "pull-request.yml diffs every environment of github.accounts against its account")

	// The stage job stages an environment of the account with stages.
	stage := byFile(t, "pull-request.yml").ast.Jobs["stage"]
	require.NotNil(t, stage)
	assert.Equal(t, config.StagesGitHubEnvironment, stage.Environment.Name.Value)
	mt := regexp.MustCompile(`\$CDK deploy -c env=([a-z0-9]+) -c "stage=\$STAGE"`).FindStringSubmatch(runs(stage))
	require.NotNil(t, mt, "the stage job deploys -c env=ENV -c stage=$STAGE")
	assert.Equal(t, accountOf[config.StagesGitHubEnvironment], accountOf[mt[1]], "the staged environment lives in the account whose CI stack trusts pr-stages")
}

func TestRedeployChoosesAnEnvironmentWithCI(t *testing.T) {
	w := byFile(t, "redeploy.yml")
	var options []string
	for _, ev := range w.ast.On {
		if d, ok := ev.(*actionlint.WorkflowDispatchEvent); ok {
			for _, o := range d.Inputs["environment"].Options {
				options = append(options, o.Value)
			}
		}
	}
	gh := ciVariants(t)["nonprod"].cfg.GitHub
	var envsWithCI []string
	for name, a := range gh.Accounts {
		for _, env := range a.Environments {
			envsWithCI = append(envsWithCI, env)
			assert.Contains(t, w.text, env+`) echo "id=$`+strings.TrimPrefix(accountVar(name), "vars.AWS_ACCOUNT_"), "redeploy.yml maps %s to account %s", env, name)
		}
	}
	sort.Strings(options)
	sort.Strings(envsWithCI)
	assert.Equal(t, envsWithCI, options)
}

// TestDeploysNeverOverlap: every job that deploys (or destroys) holds a
// concurrency group for what it changes and is never cancelled midway (a
// cancelled CLI leaves CloudFormation mid-update); deploys of one
// environment share one group across workflows.
func TestDeploysNeverOverlap(t *testing.T) {
	groups := map[string][]string{}
	for _, w := range workflows(t) {
		for id, job := range w.ast.Jobs {
			if !slicesContain(roles(job), config.CIDeployRoleName) {
				continue
			}
			where := w.file + " job " + id
			require.NotNil(t, job.Concurrency, "%s deploys without a concurrency group", where)
			assert.Equal(t, "false", job.Concurrency.CancelInProgress.String(), "%s: a deploy is never cancelled midway", where)
			group := job.Concurrency.Group.Value
			env := job.Environment.Name.Value
			switch env {
			case config.StagesGitHubEnvironment:
				assert.Equal(t, "stage-pr-${{ github.event.pull_request.number }}", group, where)
			case "${{ inputs.environment }}":
				assert.Equal(t, "deploy-${{ inputs.environment }}", group, where)
			default:
				assert.Equal(t, "deploy-"+env, group, where)
			}
			groups[group] = append(groups[group], where)
		}
	}
	assert.Len(t, groups["deploy-dev"], 1)
	assert.Len(t, groups["deploy-prod"], 1)
	assert.Len(t, groups["stage-pr-${{ github.event.pull_request.number }}"], 2, "deploy and destroy of a stage queue behind each other")
}

func slicesContain(rs []role, name string) bool {
	for _, r := range rs {
		if r.name == name {
			return true
		}
	}
	return false
}

// TestDeliveryPromotesOneImage: main builds the image once for the tasks'
// architecture; dev and prod push that artifact and deploy its commit's
// tag; prod waits for dev and for the prod environment's approval.
func TestDeliveryPromotesOneImage(t *testing.T) {
	w := byFile(t, "deliver.yml")
	var onMain bool
	for _, ev := range w.ast.On {
		if h, ok := ev.(*actionlint.WebhookEvent); ok && h.Hook.Value == "push" {
			for _, b := range h.Branches.Values {
				onMain = onMain || b.Value == "main"
			}
		}
	}
	assert.True(t, onMain, "deliver.yml runs on pushes to main")
	image := w.ast.Jobs["image"]
	require.NotNil(t, image)
	assert.Contains(t, runs(image), "docker buildx build --platform linux/"+strings.ToLower(envs["dev"].cfg.Backend.CpuArchitecture), "the image is built for the tasks' architecture")
	assert.Equal(t, envs["dev"].cfg.Backend.CpuArchitecture, envs["prod"].cfg.Backend.CpuArchitecture, "one image serves dev and prod")
	for _, env := range []string{"dev", "prod"} {
		job := w.ast.Jobs[env]
		require.NotNil(t, job, env)
		assert.Equal(t, env, job.Environment.Name.Value)
		script := runs(job)
		assert.Contains(t, script, "push-image.sh", env)
		assert.Contains(t, script, `$CDK deploy -c env=`+env+` -c "imageTag=$GITHUB_SHA" --all`, env)
		assert.Contains(t, script, "go run ./cmd/smoke -env "+env, env)
		var needs []string
		for _, n := range job.Needs {
			needs = append(needs, n.Value)
		}
		assert.Contains(t, needs, "image", env)
		if env == "prod" {
			assert.Contains(t, needs, "dev", "prod follows a smoke-checked dev")
		}
	}
	script, err := os.ReadFile(filepath.Join(root, ".github", "scripts", "push-image.sh"))
	require.NoError(t, err)
	assert.Contains(t, string(script), "--preserve-digests", "the push keeps the digest built once")
}

// TestWorkflowsUseThePinnedCLI: the workflows run the CDK CLI the README
// and the tests pin, and the project's own CI entry point.
func TestWorkflowsUseThePinnedCLI(t *testing.T) {
	for _, w := range workflows(t) {
		for _, v := range regexp.MustCompile(`aws-cdk@[0-9.]+`).FindAllString(w.text, -1) {
			assert.Equal(t, CDKCLI, v, w.file)
		}
	}
	assert.Contains(t, runs(byFile(t, "pull-request.yml").ast.Jobs["checks"]), "bash .ci/run")
}
