package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// GitHub is cdk.json's "github" block: the repository whose workflows the
// keyless CI stack (tsa-ci, one per AWS account) trusts, and which
// environments live in which account. Like the environments, it is read from
// cdk.json only: it decides who may deploy production.
type GitHub struct {
	// Repository is OWNER/NAME exactly as GitHub spells it (the OIDC token's
	// sub claim is compared case-sensitively).
	Repository string `json:"repository"`
	// OwnerID and RepositoryID are the numeric IDs GitHub puts in the sub
	// claim of repositories that use immutable subject claims
	// (repo:OWNER@OWNERID/NAME@REPOID:...); both or neither.
	OwnerID      string `json:"ownerId"`
	RepositoryID string `json:"repositoryId"`
	// Accounts are the AWS accounts CI deploys to, by a name of your choice
	// (-c ci=NAME synthesizes that account's tsa-ci).
	Accounts map[string]CIAccount `json:"accounts"`
}

// CIAccount is one AWS account's CI stack.
type CIAccount struct {
	// Environments deployed to this account; an environment is in one
	// account at most (one in none has no CI). Jobs in the GitHub
	// environment of the same name deploy it.
	Environments []string `json:"environments"`
	// Stages lets jobs in the GitHub environment pr-stages deploy and destroy
	// stages of this account's non-production environments.
	Stages bool `json:"stages"`
	// ExistingOidcProvider: the account already has GitHub's OIDC provider
	// (IAM allows one per URL and account); the stack refers to it instead
	// of creating it.
	ExistingOidcProvider bool `json:"existingOidcProvider"`
}

// OIDC constants of GitHub Actions (GitHub: OpenID Connect reference; AWS:
// Configuring a role for GitHub OIDC identity provider).
const (
	GitHubOIDCHost   = "token.actions.githubusercontent.com"
	GitHubOIDCAud    = "sts.amazonaws.com"
	CIStackName      = Project + "-ci"
	CIDeployRoleName = Project + "-ci-deploy"
	CIDiffRoleName   = Project + "-ci-diff"
	CISmokeRoleName  = Project + "-ci-smoke"
)

// GitHub's rules for names: an owner is 1-39 letters, digits and single
// hyphens, not starting or ending with one; a repository is 1-100 letters,
// digits, '.', '-' and '_' other than "." and "..".
var (
	ghOwnerPattern   = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	ghRepoPattern    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	ghIDPattern      = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	ciAccountPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
)

// Slug is the repository as the sub claim names it.
func (g *GitHub) Slug() string {
	owner, name, _ := strings.Cut(g.Repository, "/")
	if g.OwnerID != "" {
		return fmt.Sprintf("%s@%s/%s@%s", owner, g.OwnerID, name, g.RepositoryID)
	}
	return owner + "/" + name
}

// Subject is the sub claim of a job of this repository: "environment:prod",
// "pull_request", "ref:refs/heads/main".
func (g *GitHub) Subject(context string) string { return "repo:" + g.Slug() + ":" + context }

// CIConfig is the CI stack of one account (-c ci=NAME), resolved.
type CIConfig struct {
	// Name is the account's key in github.accounts.
	Name    string
	GitHub  GitHub
	Account CIAccount
	// Environments are the account's environments, each loaded and validated.
	Environments []*Config
	// AccountID and Region are pinned when the account's environments pin
	// them (all the same); empty for an environment-agnostic synth.
	AccountID, Region string
}

// Production reports whether the account holds a prod-profile environment.
func (c *CIConfig) Production() bool {
	return slices.ContainsFunc(c.Environments, func(e *Config) bool { return e.Production() })
}

// DeploySubjects are the jobs that may deploy this account's environments
// (and its stages) and run their smoke checks: one GitHub environment each.
func (c *CIConfig) DeploySubjects() []string {
	var subs []string
	for _, e := range c.Environments {
		subs = append(subs, c.GitHub.Subject("environment:"+e.Name))
	}
	if c.Account.Stages {
		subs = append(subs, c.GitHub.Subject("environment:"+StagesGitHubEnvironment))
	}
	return subs
}

// DiffSubjects are the jobs that may read the deployed templates: pull
// request workflows of this repository (GitHub gives no OIDC token to
// workflows of pull requests from forks).
func (c *CIConfig) DiffSubjects() []string { return []string{c.GitHub.Subject("pull_request")} }

// ProjectGitHub returns cdk.json's "github" block, or nil when it has none.
func ProjectGitHub(cdkJSON []byte) (map[string]any, error) {
	v, err := decodeStrict(cdkJSON)
	if err != nil {
		return nil, single("", ProjectFile, "%v", err)
	}
	file, _ := v.(map[string]any)
	ctx, _ := file["context"].(map[string]any)
	raw, ok := ctx[KeyGitHub]
	if !ok {
		return nil, nil
	}
	gh, isObj := raw.(map[string]any)
	if !isObj {
		return nil, single("", KeyGitHub, "must be an object (repository, accounts), got %s", describe(raw))
	}
	return gh, nil
}

// checkGitHub decodes and validates the github block against the
// environments, and refuses a context whose copy differs from cdk.json's.
func checkGitHub(ctx map[string]any, raw map[string]any, envs map[string]any) (*GitHub, error) {
	var p problems
	if v, ok := ctx[KeyGitHub]; ok {
		cv, cerr := canonical(v)
		fv, _ := canonical(raw)
		if cerr != nil || !reflect.DeepEqual(cv, fv) {
			p.add(KeyGitHub, "the context's github block differs from %s's: it decides who may deploy, so it is read from %s only (no -c, cdk.context.json or ~/.cdk.json); edit %s instead", ProjectFile, ProjectFile, ProjectFile)
			return nil, p.err("")
		}
	}
	if raw == nil {
		return nil, nil
	}
	if path := nullPath(raw, KeyGitHub); path != "" {
		p.add(path, "null is not a value; remove the key")
		return nil, p.err("")
	}
	var gh GitHub
	checkKeys(&p, KeyGitHub, raw, reflect.TypeOf(gh))
	if accounts, ok := raw["accounts"].(map[string]any); ok {
		for _, name := range sortedKeys(accounts) {
			if obj, ok := accounts[name].(map[string]any); ok {
				checkKeys(&p, KeyGitHub+".accounts."+name, obj, reflect.TypeOf(CIAccount{}))
			} else {
				p.add(KeyGitHub+".accounts."+name, "must be an object (environments, stages, existingOidcProvider), got %s", describe(accounts[name]))
			}
		}
	}
	if err := p.err(""); err != nil {
		return nil, err
	}
	top := map[string]any{}
	for k, v := range raw {
		if k != "accounts" {
			top[k] = v
		}
	}
	if err := decodeInto(top, &gh); err != nil {
		return nil, single("", KeyGitHub+"."+jsonField(err), "%s", jsonMessage(err))
	}
	accounts, _ := raw["accounts"].(map[string]any)
	gh.Accounts = map[string]CIAccount{}
	for _, name := range sortedKeys(accounts) {
		var a CIAccount
		if err := decodeInto(accounts[name].(map[string]any), &a); err != nil {
			return nil, single("", KeyGitHub+".accounts."+name+"."+jsonField(err), "%s", jsonMessage(err))
		}
		gh.Accounts[name] = a
	}
	validateGitHub(&p, &gh, envs)
	if err := p.err(""); err != nil {
		return nil, err
	}
	return &gh, nil
}

func validateGitHub(p *problems, gh *GitHub, envs map[string]any) {
	pre := KeyGitHub + "."
	owner, name, ok := strings.Cut(gh.Repository, "/")
	if !ok || !ghOwnerPattern.MatchString(owner) || !ghRepoPattern.MatchString(name) || name == "." || name == ".." {
		p.add(pre+"repository", "%q is not a GitHub repository; accepted: OWNER/NAME as GitHub spells it (owner: 1-39 letters, digits and single hyphens; name: 1-100 letters, digits, . - _), e.g. tsa-platform/infra", gh.Repository)
	}
	switch {
	case (gh.OwnerID == "") != (gh.RepositoryID == ""):
		p.add(pre+"ownerId", "ownerId and repositoryId go together: with both, the trust policies expect GitHub's immutable subject claims (repo:OWNER@OWNERID/NAME@REPOID:...); with neither, the name-only form")
	case gh.OwnerID != "" && (!ghIDPattern.MatchString(gh.OwnerID) || !ghIDPattern.MatchString(gh.RepositoryID)):
		p.add(pre+"ownerId", "ownerId %q and repositoryId %q must be GitHub's numeric IDs (digits, e.g. 123456)", gh.OwnerID, gh.RepositoryID)
	}
	if len(gh.Accounts) == 0 {
		p.add(pre+"accounts", "no accounts; name at least one, e.g. {\"nonprod\": {\"environments\": [\"dev\"], \"stages\": true}}")
	}
	home := map[string]string{}
	for _, acct := range sortedKeys(gh.Accounts) {
		a := gh.Accounts[acct]
		apre := pre + "accounts." + acct
		if !ciAccountPattern.MatchString(acct) {
			p.add(apre, "%q is not an account name; accepted: lower-case letters, digits and hyphens, starting with a letter, at most 32 characters", acct)
		}
		if len(a.Environments) == 0 {
			p.add(apre+".environments", "empty; list the environments (keys of %s) deployed to this account", KeyEnvironments)
		}
		type place struct{ account, region string }
		var first *place
		nonProd, unknown := false, false
		for _, env := range a.Environments {
			if _, ok := envs[env]; !ok {
				p.add(apre+".environments", "%q is not an environment; accepted: %s", env, strings.Join(sortedKeys(envs), ", "))
				continue
			}
			if other, dup := home[env]; dup {
				p.add(apre+".environments", "%q is also in account %q; an environment is deployed to one account", env, other)
				continue
			}
			home[env] = acct
			// An environment that does not load is reported when it is
			// synthesized; here it only leaves its account undecided.
			obj, _ := envs[env].(map[string]any)
			profile, err := profileOf(env, "", obj)
			cfg := defaults(profile)
			if obj == nil || err != nil || decode(obj, &cfg) != nil {
				unknown = true
				continue
			}
			nonProd = nonProd || profile != ProfileProd
			here := &place{cfg.Account, cfg.Region}
			if first == nil {
				first = here
			} else if *here != *first {
				p.add(apre+".environments", "%q is in account %q, region %q and another of them in account %q, region %q: one CI stack serves one account and region, so its environments pin the same account and region (or none of them does)", env, orAny(here.account), orAny(here.region), orAny(first.account), orAny(first.region))
			}
		}
		if a.Stages && !nonProd && !unknown && len(a.Environments) > 0 {
			p.add(apre+".stages", "this account has no non-production environment, and only those can be staged; turn stages off here or add one")
		}
	}
}

func decodeInto(obj map[string]any, v any) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// LoadCIProject is the app's path for -c ci=NAME: the CI stack of one
// account, from cdk.json's github block and environments.
func LoadCIProject(ctx any, root string) (*CIConfig, error) {
	data, err := os.ReadFile(filepath.Join(root, ProjectFile))
	if err != nil {
		return nil, single("", ProjectFile, "cannot be read (%v)", err)
	}
	envs, err := ProjectEnvironments(data)
	if err != nil {
		return nil, err
	}
	gh, err := ProjectGitHub(data)
	if err != nil {
		return nil, err
	}
	return LoadCI(ctx, envs, gh, root)
}

// LoadCI resolves the account selected by -c ci=NAME. environments and
// github stand for cdk.json's blocks (tests pass edited ones).
func LoadCI(ctx any, environments map[string]any, github map[string]any, root string) (*CIConfig, error) {
	c, envs, err := checkContext(ctx, environments)
	if err != nil {
		return nil, err
	}
	gh, err := checkGitHub(c, github, envs)
	if err != nil {
		return nil, err
	}
	if gh == nil {
		return nil, single("", KeyGitHub, "missing from %s: -c %s needs the repository and accounts the CI stack trusts, e.g. \"github\": {\"repository\": \"OWNER/NAME\", \"accounts\": {\"nonprod\": {\"environments\": [\"dev\"], \"stages\": true}}}", ProjectFile, KeyCI)
	}
	name, _ := c[KeyCI].(string)
	acct, ok := gh.Accounts[name]
	if !ok {
		return nil, single("", KeyCI, "must name an account of github.accounts, got %s; accepted: %s", describe(c[KeyCI]), strings.Join(sortedKeys(gh.Accounts), ", "))
	}
	var p problems
	for _, k := range []string{KeyEnv, KeyStage, KeyImageTag, KeyFrontendDir} {
		if _, given := c[k]; given {
			p.add(k, "does not apply with -c %s: the CI stack serves every environment of its account (%s)", KeyCI, strings.Join(acct.Environments, ", "))
		}
	}
	if err := p.err(""); err != nil {
		return nil, err
	}
	ci := &CIConfig{Name: name, GitHub: *gh, Account: acct}
	for _, env := range acct.Environments {
		envCtx := map[string]any{}
		for k, v := range c {
			if k != KeyCI {
				envCtx[k] = v
			}
		}
		envCtx[KeyEnv] = env
		cfg, err := Load(envCtx, environments, root)
		if err != nil {
			return nil, err
		}
		ci.Environments = append(ci.Environments, cfg)
	}
	ci.AccountID, ci.Region = ci.Environments[0].Account, ci.Environments[0].Region
	return ci, nil
}
