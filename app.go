// Command app synthesizes the platform of one environment (`cdk synth -c
// env=NAME`), of a stage of it (`-c stage=NAME`), or one account's CI stack
// (`-c ci=ACCOUNT`).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/tsa-platform/infra/stacks"
)

func main() {
	os.Exit(run())
}

// run builds and synthesizes the app. Any error, a configuration error or
// one CDK raises while building or synthesizing, ends as one message on
// stderr and exit status 1.
func run() int {
	defer jsii.Close()
	err := stacks.Guard(func() error {
		// aws-cdk-lib's template validator (~3 s a synth) runs only with
		// CDK_VALIDATION=true: cfn-lint checks every template in the tests and
		// .ci/run runs the validator itself (README: Where templates are checked).
		app := awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(os.Getenv("CDK_VALIDATION") == "true")})
		if err := stacks.Build(app, "."); err != nil {
			return err
		}
		app.Synth(nil)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
